package store

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
)

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
