package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
)

// Compute implements compute.Store.
type Compute struct{ db *DB }

// NewCompute returns the compute store.
func NewCompute(db *DB) *Compute { return &Compute{db: db} }

var _ compute.Store = (*Compute)(nil)

// ---- flavors

const flavorCols = `id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, disabled, description, extra_specs, created_at`

func scanFlavor(s scanner) (*compute.Flavor, error) {
	var f compute.Flavor
	var rxtx, specs string
	var created int64
	if err := s.Scan(&f.ID, &f.Name, &f.VCPUs, &f.RAM, &f.Disk, &f.Ephemeral, &f.Swap, &rxtx, &f.IsPublic, &f.Disabled, &f.Description, &specs, &created); err != nil {
		return nil, err
	}
	f.RxTxFactor, _ = strconv.ParseFloat(rxtx, 64)
	f.ExtraSpecs = map[string]string{}
	fromJSON(specs, &f.ExtraSpecs)
	f.CreatedAt = FromMicros(created)
	return &f, nil
}

func (s *Compute) CreateFlavor(ctx context.Context, f *compute.Flavor) error {
	_, err := s.db.Exec(ctx, `INSERT INTO compute_flavors (`+flavorCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		f.ID, f.Name, f.VCPUs, f.RAM, f.Disk, f.Ephemeral, f.Swap, strconv.FormatFloat(f.RxTxFactor, 'f', -1, 64), f.IsPublic, f.Disabled, f.Description, jsonText(f.ExtraSpecs), Micros(f.CreatedAt))
	return conflict(err, "Flavor with name %s or ID %s already exists.", f.Name, f.ID)
}

func (s *Compute) GetFlavor(ctx context.Context, id string) (*compute.Flavor, error) {
	f, err := scanFlavor(s.db.QueryRow(ctx, `SELECT `+flavorCols+` FROM compute_flavors WHERE id = ?`, id))
	return f, notFound(err, "Flavor %s could not be found.", id)
}

func (s *Compute) ListFlavors(ctx context.Context, f compute.FlavorFilter) ([]*compute.Flavor, error) {
	q := `SELECT ` + flavorCols + ` FROM compute_flavors WHERE ram >= ? AND disk >= ?`
	args := []any{f.MinRAM, f.MinDisk}
	switch {
	case f.IsPublic != nil && *f.IsPublic:
		q += ` AND is_public = ?`
		args = append(args, true)
	case f.IsPublic != nil && !*f.IsPublic:
		q += ` AND is_public = ?`
		args = append(args, false)
		if !f.Admin {
			q += ` AND id IN (SELECT flavor_id FROM compute_flavor_access WHERE project_id = ?)`
			args = append(args, f.ProjectID)
		}
	case !f.Admin:
		q += ` AND (is_public = ? OR id IN (SELECT flavor_id FROM compute_flavor_access WHERE project_id = ?))`
		args = append(args, true, f.ProjectID)
	}
	q += ` ORDER BY ram, id`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compute.Flavor
	for rows.Next() {
		fl, err := scanFlavor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, fl)
	}
	return out, rows.Err()
}

func (s *Compute) UpdateFlavor(ctx context.Context, f *compute.Flavor) error {
	res, err := s.db.Exec(ctx, `UPDATE compute_flavors SET description = ?, extra_specs = ?, disabled = ? WHERE id = ?`, f.Description, jsonText(f.ExtraSpecs), f.Disabled, f.ID)
	return mustAffect(res, err, "Flavor %s could not be found.", f.ID)
}

func (s *Compute) DeleteFlavor(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM compute_flavors WHERE id = ?`, id)
	return mustAffect(res, err, "Flavor %s could not be found.", id)
}

func (s *Compute) FlavorAccess(ctx context.Context, id string) ([]string, error) {
	return queryStrings(ctx, s.db, `SELECT project_id FROM compute_flavor_access WHERE flavor_id = ? ORDER BY project_id`, id)
}

func (s *Compute) AddFlavorAccess(ctx context.Context, id, projectID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO compute_flavor_access (flavor_id, project_id) VALUES (?, ?)`, id, projectID)
	if IsForeignKey(err) {
		return errs.NotFound("Flavor %s could not be found.", id)
	}
	return conflict(err, "Flavor access already exists for flavor %s and project %s combination.", id, projectID)
}

func (s *Compute) RemoveFlavorAccess(ctx context.Context, id, projectID string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM compute_flavor_access WHERE flavor_id = ? AND project_id = ?`, id, projectID)
	return mustAffect(res, err, "Flavor access not found for %s / %s combination.", id, projectID)
}

func queryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- keypairs

const keypairCols = `user_id, project_id, name, type, public_key, fingerprint, created_at`

func scanKeyPair(s scanner) (*compute.KeyPair, error) {
	var k compute.KeyPair
	var created int64
	if err := s.Scan(&k.UserID, &k.ProjectID, &k.Name, &k.Type, &k.PublicKey, &k.Fingerprint, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = FromMicros(created)
	return &k, nil
}

func (s *Compute) CreateKeyPair(ctx context.Context, k *compute.KeyPair, limit int) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if limit >= 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM compute_keypairs WHERE user_id = ?`, k.UserID).Scan(&n); err != nil {
				return err
			}
			if n+1 > limit {
				return errs.OverQuota("Quota exceeded, too many key pairs.").WithStatus(403)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO compute_keypairs (`+keypairCols+`) VALUES (?,?,?,?,?,?,?)`, k.UserID, k.ProjectID, k.Name, k.Type, k.PublicKey, k.Fingerprint, Micros(k.CreatedAt))
		return conflict(err, "Key pair '%s' already exists.", k.Name)
	})
}

func (s *Compute) GetKeyPair(ctx context.Context, userID, name string) (*compute.KeyPair, error) {
	k, err := scanKeyPair(s.db.QueryRow(ctx, `SELECT `+keypairCols+` FROM compute_keypairs WHERE user_id = ? AND name = ?`, userID, name))
	return k, notFound(err, "Keypair %s not found for user %s", name, userID)
}

func (s *Compute) ListKeyPairs(ctx context.Context, userID string) ([]*compute.KeyPair, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keypairCols+` FROM compute_keypairs WHERE user_id = ? ORDER BY name`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compute.KeyPair
	for rows.Next() {
		k, err := scanKeyPair(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Compute) DeleteKeyPair(ctx context.Context, userID, name string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM compute_keypairs WHERE user_id = ? AND name = ?`, userID, name)
	return mustAffect(res, err, "Keypair %s not found for user %s", name, userID)
}

// ---- nodes

const nodeCols = `id, seq, hostname, host_ip, availability_zone, hypervisor_type, hypervisor_version, cpu_info, vcpus, memory_mb, disk_gb, cpu_ratio, ram_ratio, disk_ratio, vcpus_cap, memory_mb_cap, disk_gb_cap, vcpus_used, memory_mb_used, disk_gb_used, disabled, disabled_reason, forced_down, up, last_seen, created_at, updated_at`

func scanNode(s scanner) (*compute.Node, error) {
	var n compute.Node
	var cpu, cr, rr, dr string
	var seen, created, updated int64
	if err := s.Scan(&n.ID, &n.Seq, &n.Hostname, &n.HostIP, &n.AvailabilityZone, &n.HypervisorType, &n.HypervisorVersion, &cpu, &n.VCPUs, &n.MemoryMB, &n.DiskGB, &cr, &rr, &dr,
		&n.VCPUsCap, &n.MemoryMBCap, &n.DiskGBCap, &n.VCPUsUsed, &n.MemoryMBUsed, &n.DiskGBUsed, &n.Disabled, &n.DisabledReason, &n.ForcedDown, &n.Up, &seen, &created, &updated); err != nil {
		return nil, err
	}
	fromJSON(cpu, &n.CPUInfo)
	n.CPURatio, _ = strconv.ParseFloat(cr, 64)
	n.RAMRatio, _ = strconv.ParseFloat(rr, 64)
	n.DiskRatio, _ = strconv.ParseFloat(dr, 64)
	n.LastSeen, n.CreatedAt, n.UpdatedAt = FromMicros(seen), FromMicros(created), FromMicros(updated)
	return &n, nil
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (s *Compute) UpsertNode(ctx context.Context, n *compute.Node) (*compute.Node, error) {
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var exists int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM compute_nodes WHERE id = ?`, n.ID).Scan(&exists); err != nil {
			return err
		}
		now := Micros(n.UpdatedAt)
		if exists == 0 {
			var seq sql.NullInt64
			if err := tx.QueryRow(ctx, `SELECT MAX(seq) FROM compute_nodes`).Scan(&seq); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO compute_nodes (`+nodeCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,0,FALSE,'',FALSE,TRUE,?,?,?)`,
				n.ID, seq.Int64+1, n.Hostname, n.HostIP, n.AvailabilityZone, n.HypervisorType, n.HypervisorVersion, jsonText(n.CPUInfo), n.VCPUs, n.MemoryMB, n.DiskGB,
				ftoa(n.CPURatio), ftoa(n.RAMRatio), ftoa(n.DiskRatio), n.VCPUsCap, n.MemoryMBCap, n.DiskGBCap, now, now, now)
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE compute_nodes SET hostname = ?, host_ip = ?, availability_zone = ?, hypervisor_type = ?, hypervisor_version = ?, cpu_info = ?,
			vcpus = ?, memory_mb = ?, disk_gb = ?, cpu_ratio = ?, ram_ratio = ?, disk_ratio = ?, vcpus_cap = ?, memory_mb_cap = ?, disk_gb_cap = ?, up = TRUE, last_seen = ?, updated_at = ? WHERE id = ?`,
			n.Hostname, n.HostIP, n.AvailabilityZone, n.HypervisorType, n.HypervisorVersion, jsonText(n.CPUInfo), n.VCPUs, n.MemoryMB, n.DiskGB,
			ftoa(n.CPURatio), ftoa(n.RAMRatio), ftoa(n.DiskRatio), n.VCPUsCap, n.MemoryMBCap, n.DiskGBCap, now, now, n.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetNode(ctx, n.ID)
}

func (s *Compute) GetNode(ctx context.Context, id string) (*compute.Node, error) {
	q := `SELECT ` + nodeCols + ` FROM compute_nodes WHERE id = ?`
	arg := any(id)
	if n, err := strconv.Atoi(id); err == nil {
		q, arg = `SELECT `+nodeCols+` FROM compute_nodes WHERE seq = ?`, n
	}
	n, err := scanNode(s.db.QueryRow(ctx, q, arg))
	return n, notFound(err, "Compute host %s could not be found.", id)
}

func (s *Compute) ListNodes(ctx context.Context) ([]*compute.Node, error) {
	rows, err := s.db.Query(ctx, `SELECT `+nodeCols+` FROM compute_nodes ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compute.Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *Compute) TouchNode(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE compute_nodes SET last_seen = ?, up = TRUE WHERE id = ?`, Micros(at), id)
	return mustAffect(res, err, "Compute host %s could not be found.", id)
}

func (s *Compute) MarkNodesDown(ctx context.Context, before time.Time) ([]string, error) {
	var out []string
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = queryStrings(ctx, tx, `SELECT id FROM compute_nodes WHERE up = TRUE AND last_seen < ?`, Micros(before))
		if err != nil || len(out) == 0 {
			return err
		}
		in, args := In(out)
		_, err = tx.Exec(ctx, `UPDATE compute_nodes SET up = FALSE WHERE id IN `+in, args...)
		return err
	})
	return out, err
}

func (s *Compute) SetNodeService(ctx context.Context, id string, disabled bool, reason string, forcedDown *bool) (*compute.Node, error) {
	n, err := s.GetNode(ctx, id)
	if err != nil {
		return nil, err
	}
	fd := n.ForcedDown
	if forcedDown != nil {
		fd = *forcedDown
	}
	_, err = s.db.Exec(ctx, `UPDATE compute_nodes SET disabled = ?, disabled_reason = ?, forced_down = ?, updated_at = ? WHERE id = ?`, disabled, reason, fd, Micros(time.Now()), n.ID)
	if err != nil {
		return nil, err
	}
	return s.GetNode(ctx, n.ID)
}

// ---- server groups

func (s *Compute) CreateServerGroup(ctx context.Context, g *compute.ServerGroup, limit int) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if limit >= 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM compute_server_groups WHERE project_id = ?`, g.ProjectID).Scan(&n); err != nil {
				return err
			}
			if n+1 > limit {
				return errs.OverQuota("Quota exceeded, too many server groups.").WithStatus(403)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO compute_server_groups (id, name, policy, project_id, user_id, created_at) VALUES (?,?,?,?,?,?)`, g.ID, g.Name, g.Policy, g.ProjectID, g.UserID, Micros(g.CreatedAt))
		return err
	})
}

func (s *Compute) GetServerGroup(ctx context.Context, id string) (*compute.ServerGroup, error) {
	var g compute.ServerGroup
	var created int64
	err := s.db.QueryRow(ctx, `SELECT id, name, policy, project_id, user_id, created_at FROM compute_server_groups WHERE id = ?`, id).Scan(&g.ID, &g.Name, &g.Policy, &g.ProjectID, &g.UserID, &created)
	if err != nil {
		return nil, notFound(err, "Instance group %s could not be found.", id)
	}
	g.CreatedAt = FromMicros(created)
	g.Members, err = queryStrings(ctx, s.db, `SELECT server_id FROM compute_server_group_members WHERE group_id = ? ORDER BY server_id`, id)
	return &g, err
}

func (s *Compute) ListServerGroups(ctx context.Context, projectID string) ([]*compute.ServerGroup, error) {
	q := `SELECT id FROM compute_server_groups`
	var args []any
	if projectID != "" {
		q += ` WHERE project_id = ?`
		args = append(args, projectID)
	}
	idl, err := queryStrings(ctx, s.db, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	out := make([]*compute.ServerGroup, 0, len(idl))
	for _, id := range idl {
		g, err := s.GetServerGroup(ctx, id)
		if err != nil {
			if errs.Is(err, errs.KindNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func (s *Compute) DeleteServerGroup(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM compute_server_groups WHERE id = ?`, id)
	return mustAffect(res, err, "Instance group %s could not be found.", id)
}

// ---- quotas and usage

// claimUsage adds deltas to a project's usage; a positive delta that would
// pass its limit (limit < 0: none) fails the whole claim. The conditional
// UPDATE is atomic on both engines, so concurrent claims cannot overshoot.
func claimUsage(ctx context.Context, tx *Tx, projectID string, deltas, limits map[string]int) error {
	for _, res := range []string{compute.QInstances, compute.QCores, compute.QRAM} {
		d, ok := deltas[res]
		if !ok || d == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO compute_quota_usages (project_id, resource, in_use) VALUES (?, ?, 0) ON CONFLICT DO NOTHING`, projectID, res); err != nil {
			return err
		}
		limit, hasLimit := limits[res]
		if d < 0 || !hasLimit || limit < 0 {
			if _, err := tx.Exec(ctx, `UPDATE compute_quota_usages SET in_use = CASE WHEN in_use + ? < 0 THEN 0 ELSE in_use + ? END WHERE project_id = ? AND resource = ?`, d, d, projectID, res); err != nil {
				return err
			}
			continue
		}
		r, err := tx.Exec(ctx, `UPDATE compute_quota_usages SET in_use = in_use + ? WHERE project_id = ? AND resource = ? AND in_use + ? <= ?`, d, projectID, res, d, limit)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			var used int
			_ = tx.QueryRow(ctx, `SELECT in_use FROM compute_quota_usages WHERE project_id = ? AND resource = ?`, projectID, res).Scan(&used)
			return errs.OverQuota("Quota exceeded for %s: Requested %d, but already used %d of %d %s", res, d, used, limit, res).WithStatus(403)
		}
	}
	return nil
}

func (s *Compute) AdjustUsage(ctx context.Context, projectID string, deltas, limits map[string]int) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return claimUsage(ctx, tx, projectID, deltas, limits) })
}

func (s *Compute) GetQuotas(ctx context.Context, projectID string) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT resource, hard_limit FROM compute_quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		out[r] = n
	}
	return out, rows.Err()
}

func (s *Compute) SetQuotas(ctx context.Context, projectID string, q map[string]int) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		for r, n := range q {
			if _, err := tx.Exec(ctx, `DELETE FROM compute_quotas WHERE project_id = ? AND resource = ?`, projectID, r); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)`, projectID, r, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Compute) DeleteQuotas(ctx context.Context, projectID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM compute_quotas WHERE project_id = ?`, projectID)
	return err
}

func (s *Compute) QuotaUsage(ctx context.Context, projectID, userID string) (map[string]int, error) {
	out := map[string]int{}
	rows, err := s.db.Query(ctx, `SELECT resource, in_use FROM compute_quota_usages WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[r] = n
	}
	rows.Close()
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM compute_server_groups WHERE project_id = ?`, projectID).Scan(&n); err != nil {
		return nil, err
	}
	out[compute.QServerGroups] = n
	if userID != "" {
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM compute_keypairs WHERE user_id = ?`, userID).Scan(&n); err != nil {
			return nil, err
		}
		out[compute.QKeyPairs] = n
	}
	return out, nil
}

// ---- usage records

func (s *Compute) StartUsage(ctx context.Context, u *compute.Usage) error {
	_, err := s.db.Exec(ctx, `INSERT INTO compute_usage (server_id, name, project_id, user_id, flavor_name, vcpus, memory_mb, local_gb, started_at) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (server_id) DO UPDATE SET flavor_name = excluded.flavor_name, vcpus = excluded.vcpus, memory_mb = excluded.memory_mb, local_gb = excluded.local_gb`,
		u.ServerID, u.Name, u.ProjectID, u.UserID, u.FlavorName, u.VCPUs, u.MemoryMB, u.LocalGB, Micros(u.StartedAt))
	return err
}

func (s *Compute) ListUsage(ctx context.Context, projectID string, start, end time.Time) ([]*compute.Usage, error) {
	q := `SELECT server_id, name, project_id, user_id, flavor_name, vcpus, memory_mb, local_gb, started_at, ended_at FROM compute_usage WHERE started_at < ? AND (ended_at = 0 OR ended_at > ?)`
	args := []any{Micros(end), Micros(start)}
	if projectID != "" {
		q += ` AND project_id = ?`
		args = append(args, projectID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY project_id, started_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compute.Usage
	for rows.Next() {
		var u compute.Usage
		var st, en int64
		if err := rows.Scan(&u.ServerID, &u.Name, &u.ProjectID, &u.UserID, &u.FlavorName, &u.VCPUs, &u.MemoryMB, &u.LocalGB, &st, &en); err != nil {
			return nil, err
		}
		u.StartedAt, u.EndedAt = FromMicros(st), FromMicros(en)
		out = append(out, &u)
	}
	return out, rows.Err()
}

// ---- actions

func (s *Compute) AddAction(ctx context.Context, a compute.Action) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return addAction(ctx, tx, a) })
}

func addAction(ctx context.Context, tx *Tx, a compute.Action) error {
	_, err := tx.Exec(ctx, `INSERT INTO compute_instance_actions (request_id, server_id, project_id, user_id, action, message, start_time, updated_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (server_id, request_id) DO NOTHING`,
		a.RequestID, a.ServerID, a.ProjectID, a.UserID, a.Action, a.Message, Micros(a.StartTime), Micros(a.StartTime))
	return err
}

func (s *Compute) StartEvent(ctx context.Context, serverID, requestID, event, host string, at time.Time) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var seq sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT MAX(seq) FROM compute_instance_action_events WHERE server_id = ? AND request_id = ?`, serverID, requestID).Scan(&seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO compute_instance_action_events (server_id, request_id, event, start_time, host, seq) VALUES (?,?,?,?,?,?)`, serverID, requestID, event, Micros(at), host, seq.Int64+1)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE compute_instance_actions SET updated_at = ? WHERE server_id = ? AND request_id = ?`, Micros(at), serverID, requestID)
		return err
	})
}

func (s *Compute) FinishEvent(ctx context.Context, serverID, requestID, event string, at time.Time, result, traceback string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE compute_instance_action_events SET finish_time = ?, result = ?, traceback = ? WHERE server_id = ? AND request_id = ? AND event = ? AND finish_time = 0`,
			Micros(at), result, traceback, serverID, requestID, event)
		if err != nil {
			return err
		}
		msg := ""
		if result == "Error" {
			msg = "Error"
		}
		_, err = tx.Exec(ctx, `UPDATE compute_instance_actions SET updated_at = ?, message = CASE WHEN ? = '' THEN message ELSE ? END WHERE server_id = ? AND request_id = ?`, Micros(at), msg, msg, serverID, requestID)
		return err
	})
}

func (s *Compute) ListActions(ctx context.Context, serverID string) ([]*compute.Action, error) {
	rows, err := s.db.Query(ctx, `SELECT request_id, server_id, project_id, user_id, action, message, start_time, updated_at FROM compute_instance_actions WHERE server_id = ? ORDER BY start_time DESC, request_id DESC`, serverID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compute.Action
	for rows.Next() {
		var a compute.Action
		var st, up int64
		if err := rows.Scan(&a.RequestID, &a.ServerID, &a.ProjectID, &a.UserID, &a.Action, &a.Message, &st, &up); err != nil {
			return nil, err
		}
		a.StartTime, a.UpdatedAt = FromMicros(st), FromMicros(up)
		out = append(out, &a)
	}
	return out, rows.Err()
}

func (s *Compute) GetAction(ctx context.Context, serverID, requestID string) (*compute.Action, error) {
	var a compute.Action
	var st, up int64
	err := s.db.QueryRow(ctx, `SELECT request_id, server_id, project_id, user_id, action, message, start_time, updated_at FROM compute_instance_actions WHERE server_id = ? AND request_id = ?`, serverID, requestID).
		Scan(&a.RequestID, &a.ServerID, &a.ProjectID, &a.UserID, &a.Action, &a.Message, &st, &up)
	if err != nil {
		return nil, notFound(err, "Action for request_id %s on instance %s not found", requestID, serverID)
	}
	a.StartTime, a.UpdatedAt = FromMicros(st), FromMicros(up)
	rows, err := s.db.Query(ctx, `SELECT event, start_time, finish_time, result, traceback, host FROM compute_instance_action_events WHERE server_id = ? AND request_id = ? ORDER BY seq`, serverID, requestID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e compute.Event
		var es, ef int64
		if err := rows.Scan(&e.Event, &es, &ef, &e.Result, &e.Traceback, &e.Host); err != nil {
			return nil, err
		}
		e.StartTime, e.FinishTime = FromMicros(es), FromMicros(ef)
		a.Events = append(a.Events, e)
	}
	return &a, rows.Err()
}

// ---- placement

func (s *Compute) Claim(ctx context.Context, serverID, nodeID string, r compute.Resources) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var projectID, groupID, current string
		if err := tx.QueryRow(ctx, `SELECT project_id, server_group_id, node_id FROM compute_servers WHERE id = ?`, serverID).Scan(&projectID, &groupID, &current); err != nil {
			return notFound(err, "Instance %s could not be found.", serverID)
		}
		if current != "" {
			if current == nodeID {
				return nil // already claimed (retried schedule)
			}
			return errs.Conflict("Instance %s is already placed on another host.", serverID)
		}
		if groupID != "" {
			if err := checkGroup(ctx, tx, groupID, serverID, nodeID); err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `UPDATE compute_nodes SET vcpus_used = vcpus_used + ?, memory_mb_used = memory_mb_used + ?, disk_gb_used = disk_gb_used + ?
			WHERE id = ? AND vcpus_used + ? <= vcpus_cap AND memory_mb_used + ? <= memory_mb_cap AND disk_gb_used + ? <= disk_gb_cap`,
			r.VCPUs, r.MemoryMB, r.DiskGB, nodeID, r.VCPUs, r.MemoryMB, r.DiskGB)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflict("Insufficient resources on host %s.", nodeID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO compute_allocations (consumer_id, node_id, vcpus, memory_mb, disk_gb, project_id, created_at) VALUES (?,?,?,?,?,?,?)`,
			serverID, nodeID, r.VCPUs, r.MemoryMB, r.DiskGB, projectID, Micros(time.Now())); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE compute_servers SET node_id = ?, updated_at = ? WHERE id = ?`, nodeID, Micros(time.Now()), serverID)
		return err
	})
}

// checkGroup enforces a hard affinity policy inside the claim's
// transaction. Touching the group row first serializes concurrent claims of
// one group on PostgreSQL (SQLite's writer lock already does).
func checkGroup(ctx context.Context, tx *Tx, groupID, serverID, nodeID string) error {
	var policy string
	if err := tx.QueryRow(ctx, `SELECT policy FROM compute_server_groups WHERE id = ?`, groupID).Scan(&policy); err != nil {
		if err == sql.ErrNoRows {
			return nil
		}
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE compute_server_groups SET name = name WHERE id = ?`, groupID); err != nil {
		return err
	}
	hosts, err := queryStrings(ctx, tx, `SELECT DISTINCT s.node_id FROM compute_servers s JOIN compute_server_group_members m ON m.server_id = s.id WHERE m.group_id = ? AND s.id <> ? AND s.node_id <> ''`, groupID, serverID)
	if err != nil {
		return err
	}
	switch policy {
	case compute.PolicyAffinity:
		for _, h := range hosts {
			if h != nodeID {
				return errs.Conflict("ServerGroupAffinityFilter: group %s runs on another host.", groupID)
			}
		}
	case compute.PolicyAntiAffinity:
		for _, h := range hosts {
			if h == nodeID {
				return errs.Conflict("ServerGroupAntiAffinityFilter: group %s already has a member on host.", groupID)
			}
		}
	}
	return nil
}

func (s *Compute) ReplaceAllocation(ctx context.Context, serverID string, r compute.Resources) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var node string
		var old compute.Resources
		err := tx.QueryRow(ctx, `SELECT node_id, vcpus, memory_mb, disk_gb FROM compute_allocations WHERE consumer_id = ?`, serverID).Scan(&node, &old.VCPUs, &old.MemoryMB, &old.DiskGB)
		if err != nil {
			return notFound(err, "Instance %s has no allocation.", serverID)
		}
		dv, dm, dd := r.VCPUs-old.VCPUs, r.MemoryMB-old.MemoryMB, r.DiskGB-old.DiskGB
		res, err := tx.Exec(ctx, `UPDATE compute_nodes SET vcpus_used = vcpus_used + ?, memory_mb_used = memory_mb_used + ?, disk_gb_used = disk_gb_used + ?
			WHERE id = ? AND vcpus_used + ? <= vcpus_cap AND memory_mb_used + ? <= memory_mb_cap AND disk_gb_used + ? <= disk_gb_cap`, dv, dm, dd, node, dv, dm, dd)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflict("No valid host was found. Insufficient resources on the server's host for the new flavor.")
		}
		_, err = tx.Exec(ctx, `UPDATE compute_allocations SET vcpus = ?, memory_mb = ?, disk_gb = ? WHERE consumer_id = ? AND node_id = ?`, r.VCPUs, r.MemoryMB, r.DiskGB, serverID, node)
		return err
	})
}

func (s *Compute) Allocations(ctx context.Context, serverID string) (map[string]compute.Resources, error) {
	rows, err := s.db.Query(ctx, `SELECT node_id, vcpus, memory_mb, disk_gb FROM compute_allocations WHERE consumer_id = ?`, serverID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]compute.Resources{}
	for rows.Next() {
		var n string
		var r compute.Resources
		if err := rows.Scan(&n, &r.VCPUs, &r.MemoryMB, &r.DiskGB); err != nil {
			return nil, err
		}
		out[n] = r
	}
	return out, rows.Err()
}

func releaseAllocations(ctx context.Context, tx *Tx, serverID string) error {
	rows, err := tx.Query(ctx, `SELECT node_id, vcpus, memory_mb, disk_gb FROM compute_allocations WHERE consumer_id = ?`, serverID)
	if err != nil {
		return err
	}
	type alloc struct {
		node string
		r    compute.Resources
	}
	var as []alloc
	for rows.Next() {
		var a alloc
		if err := rows.Scan(&a.node, &a.r.VCPUs, &a.r.MemoryMB, &a.r.DiskGB); err != nil {
			rows.Close()
			return err
		}
		as = append(as, a)
	}
	rows.Close()
	for _, a := range as {
		if _, err := tx.Exec(ctx, `UPDATE compute_nodes SET vcpus_used = CASE WHEN vcpus_used < ? THEN 0 ELSE vcpus_used - ? END,
			memory_mb_used = CASE WHEN memory_mb_used < ? THEN 0 ELSE memory_mb_used - ? END,
			disk_gb_used = CASE WHEN disk_gb_used < ? THEN 0 ELSE disk_gb_used - ? END WHERE id = ?`,
			a.r.VCPUs, a.r.VCPUs, a.r.MemoryMB, a.r.MemoryMB, a.r.DiskGB, a.r.DiskGB, a.node); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM compute_allocations WHERE consumer_id = ?`, serverID)
	return err
}

// ---- servers

const serverCols = `s.id, s.name, s.project_id, s.user_id, s.description, s.image_ref, s.flavor, s.old_flavor, s.key_name, s.key_data, s.user_data, s.metadata,
	s.availability_zone, s.requested_az, s.config_drive, s.node_id, COALESCE(n.hostname, ''), s.vm_state, s.task_state, s.power_state, s.locked, s.locked_reason, s.locked_by,
	s.networks, s.ports, s.security_groups, s.server_group_id, s.reservation_id, s.launch_index, s.hostname, s.fault, s.usage_held, s.launched_at, s.created_at, s.updated_at`

const serverFrom = ` FROM compute_servers s LEFT JOIN compute_nodes n ON n.id = s.node_id`

// networksDoc stores the requested networks with the auto/none mode.
type networksDoc struct {
	Mode     string                   `json:"mode,omitempty"`
	Requests []compute.NetworkRequest `json:"requests"`
}

// decodeCache keeps the decoded form of JSON columns repeated across the
// rows of one listing (servers of a flavor share its snapshot, most have
// the same security groups): /servers/detail decodes each once.
type decodeCache struct {
	flavors map[string]compute.Flavor
	sgs     map[string][]string
}

func (c *decodeCache) flavor(raw string, dst *compute.Flavor) {
	if c == nil {
		fromJSON(raw, dst)
		return
	}
	if f, ok := c.flavors[raw]; ok {
		*dst = f
		return
	}
	fromJSON(raw, dst)
	if c.flavors == nil {
		c.flavors = map[string]compute.Flavor{}
	}
	c.flavors[raw] = *dst
}

func (c *decodeCache) strings(raw string) []string {
	if raw == "[]" || raw == "" {
		return nil
	}
	if c != nil {
		if v, ok := c.sgs[raw]; ok {
			return v
		}
	}
	var out []string
	fromJSON(raw, &out)
	if c != nil {
		if c.sgs == nil {
			c.sgs = map[string][]string{}
		}
		c.sgs[raw] = out
	}
	return out
}

func scanServer(sc scanner) (*compute.Server, error) { return scanServerCached(sc, nil) }

func scanServerCached(sc scanner, cache *decodeCache) (*compute.Server, error) {
	var s compute.Server
	var desc sql.NullString
	var flavor, oldFlavor, meta, nets, ports, sgs, fault string
	var launched, created, updated int64
	if err := sc.Scan(&s.ID, &s.Name, &s.ProjectID, &s.UserID, &desc, &s.ImageRef, &flavor, &oldFlavor, &s.KeyName, &s.KeyData, &s.UserData, &meta,
		&s.AZ, &s.RequestedAZ, &s.ConfigDrive, &s.NodeID, &s.Host, &s.VMState, &s.TaskState, &s.PowerState, &s.Locked, &s.LockedReason, &s.LockedBy,
		&nets, &ports, &sgs, &s.ServerGroupID, &s.ReservationID, &s.LaunchIndex, &s.Hostname, &fault, &s.UsageHeld, &launched, &created, &updated); err != nil {
		return nil, err
	}
	if desc.Valid {
		d := desc.String
		s.Description = &d
	}
	cache.flavor(flavor, &s.Flavor)
	if oldFlavor != "" {
		s.OldFlavor = &compute.Flavor{}
		fromJSON(oldFlavor, s.OldFlavor)
	}
	s.Metadata = map[string]string{}
	if meta != "{}" {
		fromJSON(meta, &s.Metadata)
	}
	if nets != `{"requests":null}` && nets != "[]" {
		var nd networksDoc
		fromJSON(nets, &nd)
		s.Networks, s.NetworksMode = nd.Requests, nd.Mode
	}
	if ports != "[]" {
		fromJSON(ports, &s.Ports)
	}
	s.SecurityGroups = cache.strings(sgs)
	if fault != "" {
		s.Fault = &compute.Fault{}
		fromJSON(fault, s.Fault)
	}
	s.LaunchedAt, s.CreatedAt, s.UpdatedAt = FromMicros(launched), FromMicros(created), FromMicros(updated)
	s.Tags = []string{}
	return &s, nil
}

func serverArgs(s *compute.Server) []any {
	var desc any
	if s.Description != nil {
		desc = *s.Description
	}
	oldFlavor, fault := "", ""
	if s.OldFlavor != nil {
		oldFlavor = jsonText(s.OldFlavor)
	}
	if s.Fault != nil {
		fault = jsonText(s.Fault)
	}
	ports := "[]"
	if len(s.Ports) > 0 {
		ports = jsonText(s.Ports)
	}
	sgs := "[]"
	if len(s.SecurityGroups) > 0 {
		sgs = jsonText(s.SecurityGroups)
	}
	return []any{s.Name, s.ProjectID, s.UserID, desc, s.ImageRef, jsonText(s.Flavor), oldFlavor, s.KeyName, s.KeyData, s.UserData, jsonText(s.Metadata),
		s.AZ, s.RequestedAZ, s.ConfigDrive, s.NodeID, s.VMState, s.TaskState, s.PowerState, s.Locked, s.LockedReason, s.LockedBy,
		jsonText(networksDoc{Mode: s.NetworksMode, Requests: s.Networks}), ports, sgs, s.ServerGroupID, s.ReservationID, s.LaunchIndex, s.Hostname, fault, s.UsageHeld,
		Micros(s.LaunchedAt), Micros(s.CreatedAt), Micros(s.UpdatedAt)}
}

const serverWriteCols = `name, project_id, user_id, description, image_ref, flavor, old_flavor, key_name, key_data, user_data, metadata,
	availability_zone, requested_az, config_drive, node_id, vm_state, task_state, power_state, locked, locked_reason, locked_by,
	networks, ports, security_groups, server_group_id, reservation_id, launch_index, hostname, fault, usage_held, launched_at, created_at, updated_at`

func (s *Compute) CreateServers(ctx context.Context, servers []*compute.Server, claim, limits map[string]int, groupLimit int, action compute.Action) error {
	if len(servers) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if err := claimUsage(ctx, tx, servers[0].ProjectID, claim, limits); err != nil {
			return err
		}
		for _, sv := range servers {
			args := append([]any{sv.ID}, serverArgs(sv)...)
			if _, err := tx.Exec(ctx, `INSERT INTO compute_servers (id, `+serverWriteCols+`) VALUES (?`+strings.Repeat(",?", len(args)-1)+`)`, args...); err != nil {
				return conflict(err, "Instance %s already exists.", sv.ID)
			}
			if err := writeTags(ctx, tx, sv.ID, sv.Tags); err != nil {
				return err
			}
			if sv.ServerGroupID != "" {
				if _, err := tx.Exec(ctx, `INSERT INTO compute_server_group_members (group_id, server_id) VALUES (?, ?)`, sv.ServerGroupID, sv.ID); err != nil {
					if IsForeignKey(err) {
						return errs.BadRequest("Invalid server group %s.", sv.ServerGroupID)
					}
					return err
				}
			}
			a := action
			a.ServerID = sv.ID
			if err := addAction(ctx, tx, a); err != nil {
				return err
			}
		}
		if gid := servers[0].ServerGroupID; gid != "" && groupLimit >= 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM compute_server_group_members WHERE group_id = ?`, gid).Scan(&n); err != nil {
				return err
			}
			if n > groupLimit {
				return errs.OverQuota("Quota exceeded, too many servers in group").WithStatus(403)
			}
		}
		return nil
	})
}

func writeTags(ctx context.Context, tx *Tx, id string, tags []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM compute_server_tags WHERE server_id = ?`, id); err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := tx.Exec(ctx, `INSERT INTO compute_server_tags (server_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, t); err != nil {
			return err
		}
	}
	return nil
}

func loadTags(ctx context.Context, q Querier, servers []*compute.Server) error {
	if len(servers) == 0 {
		return nil
	}
	byID := make(map[string]*compute.Server, len(servers))
	idl := make([]string, 0, len(servers))
	for _, s := range servers {
		byID[s.ID] = s
		idl = append(idl, s.ID)
	}
	for start := 0; start < len(idl); start += 500 {
		in, args := In(idl[start:min(start+500, len(idl))])
		rows, err := q.Query(ctx, `SELECT server_id, tag FROM compute_server_tags WHERE server_id IN `+in+` ORDER BY tag`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, t string
			if err := rows.Scan(&id, &t); err != nil {
				rows.Close()
				return err
			}
			byID[id].Tags = append(byID[id].Tags, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func getServer(ctx context.Context, q Querier, id string) (*compute.Server, error) {
	sv, err := scanServer(q.QueryRow(ctx, `SELECT `+serverCols+serverFrom+` WHERE s.id = ?`, id))
	if err != nil {
		return nil, notFound(err, "Instance %s could not be found.", id)
	}
	return sv, loadTags(ctx, q, []*compute.Server{sv})
}

func (s *Compute) GetServer(ctx context.Context, id string) (*compute.Server, error) {
	return getServer(ctx, s.db, id)
}

func (s *Compute) ListServers(ctx context.Context, f compute.ServerFilter) ([]*compute.Server, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.ProjectID != "" {
		add(`s.project_id = ?`, f.ProjectID)
	}
	if f.UserID != "" {
		add(`s.user_id = ?`, f.UserID)
	}
	if len(f.IDs) > 0 {
		in, a := In(f.IDs)
		add(`s.id IN `+in, a...)
	}
	if f.VMState != "" {
		add(`s.vm_state = ?`, f.VMState)
	}
	if f.ImageRef != "" {
		add(`s.image_ref = ?`, f.ImageRef)
	}
	if f.NodeID != "" {
		add(`s.node_id = ?`, f.NodeID)
	}
	if f.Host != "" {
		add(`n.hostname = ?`, f.Host)
	}
	if !f.ChangesSince.IsZero() {
		add(`s.updated_at >= ?`, Micros(f.ChangesSince))
	}
	if !f.ChangesBefore.IsZero() {
		add(`s.updated_at <= ?`, Micros(f.ChangesBefore))
	}
	for _, t := range f.Tags {
		add(`EXISTS (SELECT 1 FROM compute_server_tags t WHERE t.server_id = s.id AND t.tag = ?)`, t)
	}
	if len(f.TagsAny) > 0 {
		in, a := In(f.TagsAny)
		add(`EXISTS (SELECT 1 FROM compute_server_tags t WHERE t.server_id = s.id AND t.tag IN `+in+`)`, a...)
	}
	if len(f.NotTags) > 0 {
		in, a := In(f.NotTags)
		add(`(SELECT COUNT(*) FROM compute_server_tags t WHERE t.server_id = s.id AND t.tag IN `+in+`) < ?`, append(a, len(f.NotTags))...)
	}
	if len(f.NotTagsAny) > 0 {
		in, a := In(f.NotTagsAny)
		add(`NOT EXISTS (SELECT 1 FROM compute_server_tags t WHERE t.server_id = s.id AND t.tag IN `+in+`)`, a...)
	}
	key := map[string]string{"": "s.created_at", "created_at": "s.created_at", "updated_at": "s.updated_at", "display_name": "s.name", "uuid": "s.id", "launched_at": "s.launched_at", "vm_state": "s.vm_state", "host": "n.hostname"}[f.SortKey]
	if key == "" {
		key = "s.created_at"
	}
	dir := "DESC"
	if strings.EqualFold(f.SortDir, "asc") {
		dir = "ASC"
	}
	cmp := "<"
	if dir == "ASC" {
		cmp = ">"
	}
	if f.Marker != "" {
		var mv any
		var mid string
		err := s.db.QueryRow(ctx, `SELECT `+key+`, s.id`+serverFrom+` WHERE s.id = ?`, f.Marker).Scan(&mv, &mid)
		if err != nil {
			if err == sql.ErrNoRows {
				return nil, errs.BadRequest("marker [%s] not found", f.Marker)
			}
			return nil, err
		}
		add(`(`+key+` `+cmp+` ? OR (`+key+` = ? AND s.id `+cmp+` ?))`, mv, mv, mid)
	}
	q := `SELECT ` + serverCols + serverFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY ` + key + ` ` + dir + `, s.id ` + dir
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []*compute.Server
	cache := &decodeCache{}
	for rows.Next() {
		sv, err := scanServerCached(rows, cache)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, sv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, loadTags(ctx, s.db, out)
}

func (s *Compute) UpdateServer(ctx context.Context, id string, fn func(*compute.Server) error) (*compute.Server, error) {
	var out *compute.Server
	err := s.db.InTx(ctx, func(tx *Tx) error {
		sv, err := getServer(ctx, tx, id)
		if err != nil {
			return err
		}
		tags := strings.Join(sv.Tags, "\x00")
		if err := fn(sv); err != nil {
			return err
		}
		sv.UpdatedAt = time.Now().UTC()
		args := append(serverArgs(sv), id)
		if _, err := tx.Exec(ctx, `UPDATE compute_servers SET (`+serverWriteCols+`) = (?`+strings.Repeat(",?", len(args)-2)+`) WHERE id = ?`, args...); err != nil {
			return err
		}
		if strings.Join(sv.Tags, "\x00") != tags {
			if err := writeTags(ctx, tx, id, sv.Tags); err != nil {
				return err
			}
		}
		out = sv
		return nil
	})
	return out, err
}

func releaseServer(ctx context.Context, tx *Tx, sv *compute.Server) error {
	if err := releaseAllocations(ctx, tx, sv.ID); err != nil {
		return err
	}
	if sv.UsageHeld {
		if err := claimUsage(ctx, tx, sv.ProjectID, map[string]int{compute.QInstances: -1, compute.QCores: -sv.Flavor.VCPUs, compute.QRAM: -sv.Flavor.RAM}, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE compute_servers SET usage_held = FALSE WHERE id = ?`, sv.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Compute) ReleaseServer(ctx context.Context, id string, fn func(*compute.Server)) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		sv, err := getServer(ctx, tx, id)
		if err != nil {
			return err
		}
		if fn != nil {
			fn(sv)
			sv.UpdatedAt = time.Now().UTC()
			args := append(serverArgs(sv), id)
			if _, err := tx.Exec(ctx, `UPDATE compute_servers SET (`+serverWriteCols+`) = (?`+strings.Repeat(",?", len(args)-2)+`) WHERE id = ?`, args...); err != nil {
				return err
			}
		}
		return releaseServer(ctx, tx, sv)
	})
}

func (s *Compute) DeleteServer(ctx context.Context, id string, at time.Time) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		sv, err := getServer(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := releaseServer(ctx, tx, sv); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM compute_server_group_members WHERE server_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE compute_usage SET ended_at = ? WHERE server_id = ? AND ended_at = 0`, Micros(at), id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM compute_servers WHERE id = ?`, id)
		return err
	})
}
