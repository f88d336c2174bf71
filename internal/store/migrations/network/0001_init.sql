-- Neutron's resources. Every table has the same shape: the columns that
-- queries filter, join or constrain on, and the whole resource as JSON in
-- body (the columns are copies kept in step by the one write path).
-- parent_id is the owning network (subnets, ports), security group (rules)
-- or floating network (floating IPs); device_id is a port's device or a
-- floating IP's port.
CREATE TABLE net_networks (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_networks_project ON net_networks (project_id, id);

CREATE TABLE net_subnets (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL REFERENCES net_networks (id), device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_subnets_project ON net_subnets (project_id, id);
CREATE INDEX net_subnets_parent ON net_subnets (parent_id, id);
CREATE INDEX net_subnets_pool ON net_subnets (device_id);

CREATE TABLE net_ports (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL REFERENCES net_networks (id), device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_ports_project ON net_ports (project_id, id);
CREATE INDEX net_ports_parent ON net_ports (parent_id, id);
CREATE INDEX net_ports_device ON net_ports (device_id);

CREATE TABLE net_security_groups (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_security_groups_project ON net_security_groups (project_id, id);

CREATE TABLE net_security_group_rules (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL REFERENCES net_security_groups (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_security_group_rules_project ON net_security_group_rules (project_id, id);
CREATE INDEX net_security_group_rules_parent ON net_security_group_rules (parent_id, id);
CREATE INDEX net_security_group_rules_remote ON net_security_group_rules (device_id);

CREATE TABLE net_routers (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_routers_project ON net_routers (project_id, id);
CREATE INDEX net_routers_gateway ON net_routers (parent_id);

CREATE TABLE net_floatingips (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL REFERENCES net_networks (id), device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_floatingips_project ON net_floatingips (project_id, id);
CREATE INDEX net_floatingips_port ON net_floatingips (device_id);

CREATE TABLE net_subnetpools (
	id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
	parent_id TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE, external BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL, revision_number BIGINT NOT NULL, body TEXT NOT NULL);
CREATE INDEX net_subnetpools_project ON net_subnetpools (project_id, id);

-- IPAM: the primary key is what guarantees an address is handed out once,
-- whatever the concurrency; allocations go with their port.
CREATE TABLE net_ip_allocations (
	subnet_id TEXT NOT NULL REFERENCES net_subnets (id),
	ip_address TEXT NOT NULL,
	port_id TEXT NOT NULL REFERENCES net_ports (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	network_id TEXT NOT NULL,
	PRIMARY KEY (subnet_id, ip_address));
CREATE INDEX net_ip_allocations_port ON net_ip_allocations (port_id);

-- Segments: one network per (type, physical network, segmentation ID);
-- flat networks use ID 0, so one flat network per physical network.
CREATE TABLE net_segments (
	network_type TEXT NOT NULL, physical_network TEXT NOT NULL DEFAULT '',
	segmentation_id BIGINT NOT NULL,
	network_id TEXT NOT NULL REFERENCES net_networks (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	PRIMARY KEY (network_type, physical_network, segmentation_id));
CREATE INDEX net_segments_network ON net_segments (network_id);

-- A security group cannot be deleted while a port uses it (the foreign key
-- says so even under concurrency).
CREATE TABLE net_port_security_groups (
	port_id TEXT NOT NULL REFERENCES net_ports (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	security_group_id TEXT NOT NULL REFERENCES net_security_groups (id),
	PRIMARY KEY (port_id, security_group_id));
CREATE INDEX net_port_security_groups_sg ON net_port_security_groups (security_group_id);

-- One default security group per project, created on first use.
CREATE TABLE net_default_security_groups (
	project_id TEXT PRIMARY KEY, security_group_id TEXT NOT NULL);

CREATE TABLE net_quotas (
	project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
	PRIMARY KEY (project_id, resource));
