-- Compute (nova) and placement. Times are BIGINT microseconds.
CREATE TABLE compute_flavors (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	vcpus INTEGER NOT NULL,
	ram INTEGER NOT NULL,
	disk INTEGER NOT NULL,
	ephemeral INTEGER NOT NULL DEFAULT 0,
	swap INTEGER NOT NULL DEFAULT 0,
	rxtx_factor TEXT NOT NULL DEFAULT '1.0',
	is_public BOOLEAN NOT NULL,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	description TEXT NOT NULL DEFAULT '',
	extra_specs TEXT NOT NULL DEFAULT '{}',
	created_at BIGINT NOT NULL
);

CREATE TABLE compute_flavor_access (
	flavor_id TEXT NOT NULL REFERENCES compute_flavors(id) ON DELETE CASCADE,
	project_id TEXT NOT NULL,
	PRIMARY KEY (flavor_id, project_id)
);

CREATE TABLE compute_keypairs (
	user_id TEXT NOT NULL,
	name TEXT NOT NULL,
	type TEXT NOT NULL,
	public_key TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	project_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, name)
);

-- A compute node: its service record (enabled, forced down), its agent's
-- liveness and its placement inventory and usage in one row, so a claim
-- is one conditional UPDATE.
CREATE TABLE compute_nodes (
	id TEXT PRIMARY KEY,
	seq INTEGER NOT NULL UNIQUE,
	hostname TEXT NOT NULL,
	host_ip TEXT NOT NULL DEFAULT '',
	availability_zone TEXT NOT NULL,
	hypervisor_type TEXT NOT NULL,
	hypervisor_version INTEGER NOT NULL DEFAULT 0,
	cpu_info TEXT NOT NULL DEFAULT '{}',
	vcpus INTEGER NOT NULL,
	memory_mb INTEGER NOT NULL,
	disk_gb INTEGER NOT NULL,
	cpu_ratio TEXT NOT NULL,
	ram_ratio TEXT NOT NULL,
	disk_ratio TEXT NOT NULL,
	vcpus_cap INTEGER NOT NULL,
	memory_mb_cap INTEGER NOT NULL,
	disk_gb_cap INTEGER NOT NULL,
	vcpus_used INTEGER NOT NULL DEFAULT 0,
	memory_mb_used INTEGER NOT NULL DEFAULT 0,
	disk_gb_used INTEGER NOT NULL DEFAULT 0,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	disabled_reason TEXT NOT NULL DEFAULT '',
	forced_down BOOLEAN NOT NULL DEFAULT FALSE,
	up BOOLEAN NOT NULL DEFAULT TRUE,
	last_seen BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE compute_allocations (
	consumer_id TEXT NOT NULL,
	node_id TEXT NOT NULL REFERENCES compute_nodes(id),
	vcpus INTEGER NOT NULL,
	memory_mb INTEGER NOT NULL,
	disk_gb INTEGER NOT NULL,
	project_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (consumer_id, node_id)
);

CREATE TABLE compute_server_groups (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	policy TEXT NOT NULL,
	project_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX compute_server_groups_project ON compute_server_groups (project_id);

CREATE TABLE compute_servers (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	project_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	description TEXT,
	image_ref TEXT NOT NULL,
	flavor TEXT NOT NULL,
	old_flavor TEXT NOT NULL DEFAULT '',
	key_name TEXT NOT NULL DEFAULT '',
	key_data TEXT NOT NULL DEFAULT '',
	user_data TEXT NOT NULL DEFAULT '',
	metadata TEXT NOT NULL DEFAULT '{}',
	availability_zone TEXT NOT NULL DEFAULT '',
	requested_az TEXT NOT NULL DEFAULT '',
	config_drive BOOLEAN NOT NULL DEFAULT FALSE,
	node_id TEXT NOT NULL DEFAULT '',
	vm_state TEXT NOT NULL,
	task_state TEXT NOT NULL DEFAULT '',
	power_state INTEGER NOT NULL DEFAULT 0,
	locked BOOLEAN NOT NULL DEFAULT FALSE,
	locked_reason TEXT NOT NULL DEFAULT '',
	locked_by TEXT NOT NULL DEFAULT '',
	networks TEXT NOT NULL DEFAULT '[]',
	ports TEXT NOT NULL DEFAULT '[]',
	security_groups TEXT NOT NULL DEFAULT '[]',
	server_group_id TEXT NOT NULL DEFAULT '',
	reservation_id TEXT NOT NULL,
	launch_index INTEGER NOT NULL DEFAULT 0,
	hostname TEXT NOT NULL,
	fault TEXT NOT NULL DEFAULT '',
	usage_held BOOLEAN NOT NULL DEFAULT TRUE,
	launched_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX compute_servers_project ON compute_servers (project_id, created_at);
CREATE INDEX compute_servers_node ON compute_servers (node_id);
CREATE INDEX compute_servers_updated ON compute_servers (updated_at);

CREATE TABLE compute_server_tags (
	server_id TEXT NOT NULL REFERENCES compute_servers(id) ON DELETE CASCADE,
	tag TEXT NOT NULL,
	PRIMARY KEY (server_id, tag)
);

CREATE TABLE compute_server_group_members (
	group_id TEXT NOT NULL REFERENCES compute_server_groups(id) ON DELETE CASCADE,
	server_id TEXT NOT NULL,
	PRIMARY KEY (group_id, server_id)
);

-- Instance actions outlive their server (2.21 shows them for deleted ones).
CREATE TABLE compute_instance_actions (
	request_id TEXT NOT NULL,
	server_id TEXT NOT NULL,
	project_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	action TEXT NOT NULL,
	message TEXT NOT NULL DEFAULT '',
	start_time BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (server_id, request_id)
);

CREATE TABLE compute_instance_action_events (
	server_id TEXT NOT NULL,
	request_id TEXT NOT NULL,
	event TEXT NOT NULL,
	start_time BIGINT NOT NULL,
	finish_time BIGINT NOT NULL DEFAULT 0,
	result TEXT NOT NULL DEFAULT '',
	traceback TEXT NOT NULL DEFAULT '',
	host TEXT NOT NULL DEFAULT '',
	seq INTEGER NOT NULL,
	PRIMARY KEY (server_id, request_id, seq)
);

CREATE TABLE compute_quotas (
	project_id TEXT NOT NULL,
	resource TEXT NOT NULL,
	hard_limit INTEGER NOT NULL,
	PRIMARY KEY (project_id, resource)
);

-- Usage counters claimed with conditional updates so concurrent creates
-- cannot exceed a limit on either engine.
CREATE TABLE compute_quota_usages (
	project_id TEXT NOT NULL,
	resource TEXT NOT NULL,
	in_use INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (project_id, resource)
);

-- Usage records for os-simple-tenant-usage (kept after delete).
CREATE TABLE compute_usage (
	server_id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	project_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	flavor_name TEXT NOT NULL,
	vcpus INTEGER NOT NULL,
	memory_mb INTEGER NOT NULL,
	local_gb INTEGER NOT NULL,
	started_at BIGINT NOT NULL,
	ended_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX compute_usage_project ON compute_usage (project_id);
