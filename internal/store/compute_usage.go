package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
)

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
	return queryCounts(ctx, s.db, `SELECT resource, hard_limit FROM compute_quotas WHERE project_id = ?`, projectID)
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
	out, err := queryCounts(ctx, s.db, `SELECT resource, in_use FROM compute_quota_usages WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
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
