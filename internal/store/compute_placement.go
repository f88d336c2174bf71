package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
)

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
