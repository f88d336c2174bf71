package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/errs"
)

// Network implements network.Store. Every Neutron resource kind has a table
// of the same shape (see migrations/network), so one set of statements
// serves all of them.
type Network struct {
	db *DB
	// writers queues this store's SQLite write transactions in-process.
	// SQLite has one writer at a time anyway; waiting here instead of in
	// its busy handler (which sleeps 1, 2, 5 ... 100 ms between retries)
	// turns 8 concurrent port creates from ~150/s into several hundred.
	writers sync.Mutex
}

// NewNetwork returns the network store.
func NewNetwork(db *DB) *Network { return &Network{db: db} }

var _ network.Store = (*Network)(nil)

// Tx implements network.Store.
func (s *Network) Tx(ctx context.Context, fn func(network.Ops) error) error {
	if s.db.Dialect() == SQLite {
		s.writers.Lock()
		defer s.writers.Unlock()
	}
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(netOps{q: tx}) })
}

// Read implements network.Store.
func (s *Network) Read() network.Ops { return netOps{q: s.db} }

type netOps struct{ q Querier }

// netTable maps a kind to its table; kinds are a closed set, so table
// names never come from input.
func netTable(k network.Kind) string {
	for _, x := range network.Kinds {
		if x == k {
			return "net_" + string(k)
		}
	}
	panic(fmt.Sprintf("store: unknown network kind %q", k))
}

var netColumns = map[string]string{"id": "id", "project_id": "project_id", "name": "name", "parent_id": "parent_id", "device_id": "device_id"}

const netCols = `id, project_id, name, parent_id, device_id, shared, external, created_at, revision_number, body, body_version`

func scanNetRow(s scanner) (*network.Row, error) {
	var r network.Row
	var created int64
	var body string
	if err := s.Scan(&r.ID, &r.ProjectID, &r.Name, &r.ParentID, &r.DeviceID, &r.Shared, &r.External, &created, &r.Revision, &body, &r.BodyVersion); err != nil {
		return nil, err
	}
	r.CreatedAt = FromMicros(created)
	r.Body = []byte(body)
	return &r, nil
}

func (o netOps) Get(ctx context.Context, k network.Kind, id string, forUpdate bool) (*network.Row, error) {
	q := `SELECT ` + netCols + ` FROM ` + netTable(k) + ` WHERE id = ?`
	if forUpdate && o.q.Dialect() == Postgres {
		// SQLite's IMMEDIATE transactions already hold the write lock.
		q += ` FOR UPDATE`
	}
	r, err := scanNetRow(o.q.QueryRow(ctx, q, id))
	if err != nil {
		return nil, notFound(err, "%s %s could not be found.", k, id)
	}
	return r, nil
}

func where(q network.Query) (string, []any) {
	var conds []string
	var args []any
	if q.ProjectID != "" {
		if q.OrShared {
			conds = append(conds, `(project_id = ? OR shared OR external)`)
		} else {
			conds = append(conds, `project_id = ?`)
		}
		args = append(args, q.ProjectID)
	}
	for col, vals := range q.Eq {
		c, ok := netColumns[col]
		if !ok {
			continue
		}
		in, a := In(vals)
		conds = append(conds, c+` IN `+in)
		args = append(args, a...)
	}
	if q.Marker != "" {
		if q.Desc {
			conds = append(conds, `id < ?`)
		} else {
			conds = append(conds, `id > ?`)
		}
		args = append(args, q.Marker)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

func (o netOps) List(ctx context.Context, k network.Kind, q network.Query) ([]*network.Row, error) {
	w, args := where(q)
	stmt := `SELECT ` + netCols + ` FROM ` + netTable(k) + w + ` ORDER BY id`
	if q.Desc {
		stmt += ` DESC`
	}
	if q.Limit > 0 {
		stmt += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	rows, err := o.q.Query(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*network.Row
	for rows.Next() {
		r, err := scanNetRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (o netOps) Count(ctx context.Context, k network.Kind, q network.Query) (int, error) {
	w, args := where(q)
	var n int
	err := o.q.QueryRow(ctx, `SELECT COUNT(*) FROM `+netTable(k)+w, args...).Scan(&n)
	return n, err
}

func (o netOps) Insert(ctx context.Context, k network.Kind, r *network.Row) error {
	_, err := o.q.Exec(ctx, `INSERT INTO `+netTable(k)+` (`+netCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ProjectID, r.Name, r.ParentID, r.DeviceID, r.Shared, r.External, Micros(r.CreatedAt), r.Revision, string(r.Body), r.BodyVersion)
	if IsUnique(err) {
		return errs.Conflict("%s %s already exists.", k, r.ID)
	}
	if IsForeignKey(err) {
		return errs.Conflict("A resource referenced by %s %s no longer exists.", k, r.ID)
	}
	return err
}

func (o netOps) Update(ctx context.Context, k network.Kind, r *network.Row) error {
	res, err := o.q.Exec(ctx, `UPDATE `+netTable(k)+` SET project_id = ?, name = ?, parent_id = ?, device_id = ?, shared = ?, external = ?, revision_number = ?, body = ?, body_version = ? WHERE id = ?`,
		r.ProjectID, r.Name, r.ParentID, r.DeviceID, r.Shared, r.External, r.Revision, string(r.Body), r.BodyVersion, r.ID)
	return mustAffect(res, err, "%s %s could not be found.", k, r.ID)
}

func (o netOps) Delete(ctx context.Context, k network.Kind, id string) error {
	res, err := o.q.Exec(ctx, `DELETE FROM `+netTable(k)+` WHERE id = ?`, id)
	if IsForeignKey(err) {
		return errs.Conflict("%s %s is in use.", k, id)
	}
	return mustAffect(res, err, "%s %s could not be found.", k, id)
}

func (o netOps) AllocateIP(ctx context.Context, a network.IPAllocation) (bool, error) {
	// ON CONFLICT DO NOTHING: a racing transaction holding the same address
	// makes this one wait for its outcome, then skip, instead of aborting
	// (PostgreSQL) the whole transaction.
	res, err := o.q.Exec(ctx, `INSERT INTO net_ip_allocations (subnet_id, ip_address, port_id, network_id, ip_key) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.SubnetID, a.IPAddress, a.PortID, a.NetworkID, network.IPKey(a.IPAddress))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (o netOps) HighestAllocated(ctx context.Context, subnetID, first, last string) (string, error) {
	var ip sql.NullString
	err := o.q.QueryRow(ctx, `SELECT ip_address FROM net_ip_allocations WHERE subnet_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key DESC LIMIT 1`,
		subnetID, network.IPKey(first), network.IPKey(last)).Scan(&ip)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return ip.String, err
}

func (o netOps) ReleaseIP(ctx context.Context, subnetID, ip string) error {
	_, err := o.q.Exec(ctx, `DELETE FROM net_ip_allocations WHERE subnet_id = ? AND ip_address = ?`, subnetID, ip)
	return err
}

func (o netOps) SubnetAllocations(ctx context.Context, subnetID string) ([]network.IPAllocation, error) {
	rows, err := o.q.Query(ctx, `SELECT subnet_id, ip_address, port_id, network_id FROM net_ip_allocations WHERE subnet_id = ?`, subnetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []network.IPAllocation
	for rows.Next() {
		var a network.IPAllocation
		if err := rows.Scan(&a.SubnetID, &a.IPAddress, &a.PortID, &a.NetworkID); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (o netOps) AllocatedIPCounts(ctx context.Context, subnetIDs []string) (map[string]int, error) {
	if len(subnetIDs) == 0 {
		return map[string]int{}, nil
	}
	in, args := In(subnetIDs)
	return queryCounts(ctx, o.q, `SELECT subnet_id, COUNT(*) FROM net_ip_allocations WHERE subnet_id IN `+in+` GROUP BY subnet_id`, args...)
}

func (o netOps) AllocateSegment(ctx context.Context, netType, physnet string, id int, networkID string) (bool, error) {
	res, err := o.q.Exec(ctx, `INSERT INTO net_segments (network_type, physical_network, segmentation_id, network_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		netType, physnet, id, networkID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (o netOps) UsedSegments(ctx context.Context, netType, physnet string, from, to int) ([]int, error) {
	return queryColumn[int](ctx, o.q, `SELECT segmentation_id FROM net_segments WHERE network_type = ? AND physical_network = ? AND segmentation_id BETWEEN ? AND ? ORDER BY segmentation_id`,
		netType, physnet, from, to)
}

func (o netOps) ReleaseSegments(ctx context.Context, networkID string) error {
	_, err := o.q.Exec(ctx, `DELETE FROM net_segments WHERE network_id = ?`, networkID)
	return err
}

func (o netOps) ClaimPortDevice(ctx context.Context, portID, deviceID string) error {
	if deviceID == "" {
		return fmt.Errorf("store: a port is claimed for a device, not for none")
	}
	// One UPDATE decides: on PostgreSQL a racing claim waits for the row
	// and re-checks the condition on the committed version; SQLite has one
	// writer at a time.
	res, err := o.q.Exec(ctx, `UPDATE net_ports SET device_id = ? WHERE id = ? AND (device_id = '' OR device_id = ?)`, deviceID, portID, deviceID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var device, networkID string
	err = o.q.QueryRow(ctx, `SELECT device_id, parent_id FROM net_ports WHERE id = ?`, portID).Scan(&device, &networkID)
	if err != nil {
		return notFound(err, "Port %s could not be found.", portID)
	}
	return errs.Conflict("Unable to complete operation on port %s for network %s. Port already has an attached device %s.", portID, networkID, device).WithType("PortInUse")
}

func (o netOps) SetPortSecurityGroups(ctx context.Context, portID string, sgs []string) error {
	if _, err := o.q.Exec(ctx, `DELETE FROM net_port_security_groups WHERE port_id = ?`, portID); err != nil {
		return err
	}
	for _, sg := range sgs {
		_, err := o.q.Exec(ctx, `INSERT INTO net_port_security_groups (port_id, security_group_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, portID, sg)
		if IsForeignKey(err) {
			return errs.NotFound("Security group %s does not exist.", sg).WithType("SecurityGroupNotFound")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (o netOps) SecurityGroupPorts(ctx context.Context, sgID string) (int, error) {
	var n int
	err := o.q.QueryRow(ctx, `SELECT COUNT(*) FROM net_port_security_groups WHERE security_group_id = ?`, sgID).Scan(&n)
	return n, err
}

func (o netOps) ClaimDefaultSecurityGroup(ctx context.Context, projectID, sgID string) (string, bool, error) {
	res, err := o.q.Exec(ctx, `INSERT INTO net_default_security_groups (project_id, security_group_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, projectID, sgID)
	if err != nil {
		return "", false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return sgID, true, nil
	}
	id, err := o.DefaultSecurityGroup(ctx, projectID)
	return id, false, err
}

func (o netOps) DefaultSecurityGroup(ctx context.Context, projectID string) (string, error) {
	var id string
	err := o.q.QueryRow(ctx, `SELECT security_group_id FROM net_default_security_groups WHERE project_id = ?`, projectID).Scan(&id)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return id, err
}

func (o netOps) ForgetDefaultSecurityGroup(ctx context.Context, projectID string) error {
	_, err := o.q.Exec(ctx, `DELETE FROM net_default_security_groups WHERE project_id = ?`, projectID)
	return err
}

func (o netOps) Quotas(ctx context.Context, projectID string) (map[string]int, error) {
	return queryCounts(ctx, o.q, `SELECT resource, hard_limit FROM net_quotas WHERE project_id = ?`, projectID)
}

func (o netOps) QuotaProjects(ctx context.Context) ([]string, error) {
	rows, err := o.q.Query(ctx, `SELECT DISTINCT project_id FROM net_quotas ORDER BY project_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (o netOps) SetQuota(ctx context.Context, projectID, resource string, limit int) error {
	_, err := o.q.Exec(ctx, `INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
		ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, resource, limit)
	return err
}

func (o netOps) DeleteQuotas(ctx context.Context, projectID string) error {
	_, err := o.q.Exec(ctx, `DELETE FROM net_quotas WHERE project_id = ?`, projectID)
	return err
}
