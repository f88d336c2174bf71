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
