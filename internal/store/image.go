package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/errs"
)

// Image implements image.Store.
type Image struct{ db *DB }

// NewImage returns the image store.
func NewImage(db *DB) *Image { return &Image{db: db} }

var _ image.Store = (*Image)(nil)

const imageCols = `id, name, status, visibility, owner, disk_format, container_format, size, virtual_size,
	checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, staged, created_at, updated_at`

func scanImage(s scanner) (*image.Image, error) {
	var img image.Image
	var size, vsize sql.NullInt64
	var staged string
	var created, updated int64
	if err := s.Scan(&img.ID, &img.Name, &img.Status, &img.Visibility, &img.Owner, &img.DiskFormat, &img.ContainerFormat,
		&size, &vsize, &img.Checksum, &img.HashAlgo, &img.HashValue, &img.MinDisk, &img.MinRAM, &img.Protected, &img.Hidden,
		&staged, &created, &updated); err != nil {
		return nil, err
	}
	if size.Valid {
		img.Size = &size.Int64
	}
	if vsize.Valid {
		img.VirtualSize = &vsize.Int64
	}
	if staged != "" {
		img.Staged = &image.DataInfo{}
		fromJSON(staged, img.Staged)
	}
	img.CreatedAt, img.UpdatedAt = FromMicros(created), FromMicros(updated)
	img.Tags = []string{}
	img.Properties = map[string]string{}
	return &img, nil
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func imageArgs(img *image.Image) []any {
	staged, stagedSize := "", int64(0)
	if img.Staged != nil {
		staged, stagedSize = jsonText(img.Staged), img.Staged.Size
	}
	return []any{img.Name, img.Status, img.Visibility, img.Owner, img.DiskFormat, img.ContainerFormat,
		nullInt(img.Size), nullInt(img.VirtualSize), img.Checksum, img.HashAlgo, img.HashValue, img.MinDisk, img.MinRAM,
		img.Protected, img.Hidden, staged, stagedSize, Micros(img.CreatedAt), Micros(img.UpdatedAt)}
}

// details loads tags and properties of imgs in batches.
func (s *Image) details(ctx context.Context, q Querier, imgs []*image.Image) error {
	if len(imgs) == 0 {
		return nil
	}
	byID := make(map[string]*image.Image, len(imgs))
	keys := make([]string, 0, len(imgs))
	for _, i := range imgs {
		byID[i.ID] = i
		keys = append(keys, i.ID)
	}
	for start := 0; start < len(keys); start += 500 {
		in, args := In(keys[start:min(start+500, len(keys))])
		rows, err := q.Query(ctx, `SELECT image_id, tag FROM image_tags WHERE image_id IN `+in+` ORDER BY tag`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, tag string
			if err := rows.Scan(&id, &tag); err != nil {
				rows.Close()
				return err
			}
			byID[id].Tags = append(byID[id].Tags, tag)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = q.Query(ctx, `SELECT image_id, name, value FROM image_properties WHERE image_id IN `+in, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				rows.Close()
				return err
			}
			byID[id].Properties[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Image) writeDetails(ctx context.Context, tx *Tx, img *image.Image, replace bool) error {
	if replace {
		if _, err := tx.Exec(ctx, `DELETE FROM image_tags WHERE image_id = ?`, img.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM image_properties WHERE image_id = ?`, img.ID); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, t := range img.Tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		if _, err := tx.Exec(ctx, `INSERT INTO image_tags (image_id, tag) VALUES (?, ?)`, img.ID, t); err != nil {
			return err
		}
	}
	for k, v := range img.Properties {
		if _, err := tx.Exec(ctx, `INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)`, img.ID, k, v); err != nil {
			return err
		}
	}
	return nil
}

// lockOwner serializes quota checks of one project. SQLite's IMMEDIATE
// transactions already run one writer at a time; PostgreSQL's READ
// COMMITTED would let two transactions count the same usage, so they take
// a transaction-scoped advisory lock on the project first.
func lockOwner(ctx context.Context, tx *Tx, owner string) error {
	if tx.Dialect() != Postgres {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('image-quota:' || ?))`, owner)
	return err
}

func (s *Image) CreateImage(ctx context.Context, img *image.Image, maxImages int) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if maxImages > 0 {
			if err := lockOwner(ctx, tx, img.Owner); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM images WHERE owner = ?`, img.Owner).Scan(&n); err != nil {
				return err
			}
			if n+1 > maxImages {
				return errs.OverQuota("Resource image_count_total is over limit of %d due to current usage %d and delta 1.", maxImages, n)
			}
		}
		args := append([]any{img.ID}, imageArgs(img)...)
		_, err := tx.Exec(ctx, `INSERT INTO images (id, name, status, visibility, owner, disk_format, container_format, size, virtual_size,
			checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, staged, staged_size, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...)
		if err != nil {
			return conflict(err, "Image with identifier %s already exists!", img.ID)
		}
		return s.writeDetails(ctx, tx, img, false)
	})
}

func (s *Image) get(ctx context.Context, q Querier, id string) (*image.Image, error) {
	img, err := scanImage(q.QueryRow(ctx, `SELECT `+imageCols+` FROM images WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "No image found with ID %s", id)
	}
	return img, s.details(ctx, q, []*image.Image{img})
}

func (s *Image) GetImage(ctx context.Context, id string) (*image.Image, error) {
	return s.get(ctx, s.db, id)
}

func (s *Image) UpdateImage(ctx context.Context, id string, fn func(*image.Image, func() (image.Usage, error)) error) (*image.Image, error) {
	var out *image.Image
	err := s.db.InTx(ctx, func(tx *Tx) error {
		img, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		usage := func() (image.Usage, error) {
			if err := lockOwner(ctx, tx, img.Owner); err != nil {
				return image.Usage{}, err
			}
			return s.usage(ctx, tx, img.Owner)
		}
		if err := fn(img, usage); err != nil {
			return err
		}
		args := append(imageArgs(img), id)
		_, err = tx.Exec(ctx, `UPDATE images SET name = ?, status = ?, visibility = ?, owner = ?, disk_format = ?, container_format = ?,
			size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?, min_disk = ?, min_ram = ?, protected = ?,
			os_hidden = ?, staged = ?, staged_size = ?, created_at = ?, updated_at = ? WHERE id = ?`, args...)
		if err != nil {
			return err
		}
		if err := s.writeDetails(ctx, tx, img, true); err != nil {
			return err
		}
		out = img
		return nil
	})
	if out != nil {
		sort.Strings(out.Tags)
	}
	return out, err
}

func (s *Image) DeleteImage(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM images WHERE id = ?`, id)
	return mustAffect(res, err, "No image found with ID %s", id)
}

func (s *Image) usage(ctx context.Context, q Querier, project string) (image.Usage, error) {
	var u image.Usage
	err := q.QueryRow(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(COALESCE(size, 0) + staged_size), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN status IN ('saving', 'uploading', 'importing') THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM images WHERE owner = ?`, project).Scan(&u.Images, &u.Bytes, &u.Uploading)
	return u, err
}

func (s *Image) Usage(ctx context.Context, project string) (image.Usage, error) {
	return s.usage(ctx, s.db, project)
}

func (s *Image) ResetInterrupted(ctx context.Context) (int, error) {
	var n int64
	err := s.db.InTx(ctx, func(tx *Tx) error {
		n = 0
		for _, q := range []string{
			`UPDATE images SET status = 'queued' WHERE status = 'saving'`,
			`UPDATE images SET status = 'uploading' WHERE status = 'importing' AND staged <> ''`,
			`UPDATE images SET status = 'queued', staged = '', staged_size = 0 WHERE status IN ('importing', 'uploading') AND staged = ''`,
		} {
			res, err := tx.Exec(ctx, q)
			if err != nil {
				return err
			}
			c, _ := res.RowsAffected()
			n += c
		}
		return nil
	})
	return int(n), err
}

// sortExpr maps API sort keys to SQL expressions; nullable numbers sort as
// -1 so SQLite and PostgreSQL (which order NULLs differently) agree.
var sortExpr = map[string]string{
	"name": "name", "status": "status", "container_format": "container_format", "disk_format": "disk_format",
	"size": "COALESCE(size, -1)", "virtual_size": "COALESCE(virtual_size, -1)", "id": "id",
	"created_at": "created_at", "updated_at": "updated_at", "visibility": "visibility", "owner": "owner",
	"min_disk": "min_disk", "min_ram": "min_ram",
}

// SortKeys lists the keys ListImages can sort on.
func SortKeys() []string {
	out := make([]string, 0, len(sortExpr))
	for k := range sortExpr {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortValue(img *image.Image, key string) any {
	switch key {
	case "name":
		return img.Name
	case "status":
		return img.Status
	case "container_format":
		return img.ContainerFormat
	case "disk_format":
		return img.DiskFormat
	case "size":
		if img.Size == nil {
			return int64(-1)
		}
		return *img.Size
	case "virtual_size":
		if img.VirtualSize == nil {
			return int64(-1)
		}
		return *img.VirtualSize
	case "created_at":
		return Micros(img.CreatedAt)
	case "updated_at":
		return Micros(img.UpdatedAt)
	case "visibility":
		return img.Visibility
	case "owner":
		return img.Owner
	case "min_disk":
		return img.MinDisk
	case "min_ram":
		return img.MinRAM
	}
	return img.ID
}

var timeOps = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}

// ImageListSQL returns the query ListImages runs (tests print its plan).
func ImageListSQL(db *DB, f image.ListFilter) (string, []any) {
	q, args, _ := listSQL(db.Dialect(), f)
	return db.Rebind(q), args
}

func (s *Image) ListImages(ctx context.Context, f image.ListFilter) ([]*image.Image, error) {
	q, args, err := listSQL(s.db.Dialect(), f)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*image.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, s.details(ctx, s.db, out)
}

// listSQL builds the list query.
//
// On SQLite, the visibility and tag/property terms are written with
// SQLite's unary "+", which keeps the planner from driving the query off
// their indexes (a multi-index OR, then sorting every match): it walks the
// index of the sort order instead and stops after one page of matches,
// which keeps every page cheap however many images match. PostgreSQL
// plans from statistics and gets plain columns.
func listSQL(d Dialect, f image.ListFilter) (string, []any, error) {
	nx := ""
	if d == SQLite {
		nx = "+"
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	in := func(col string, vals []string) {
		if len(vals) > 0 {
			q, a := In(vals)
			add(col+" IN "+q, a...)
		}
	}

	// Who sees what (glance's defaults): the owner its images, everyone
	// public ones, members shared ones whose membership has the asked
	// status (accepted unless told otherwise), and community images only
	// when asked for.
	ms := f.MemberStatus
	if ms == "" {
		ms = image.MemberAccepted
	}
	memberCond := `EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member_id = ?`
	memberArgs := []any{f.Project}
	if ms != "all" {
		memberCond += ` AND m.status = ?`
		memberArgs = append(memberArgs, ms)
	}
	memberCond += `)`
	switch v := f.Visibility; {
	case f.Admin && (v == "" || v == "all"):
	case f.Admin:
		add("visibility = ?", v)
	case v == "" || v == "all":
		cond := "(" + nx + "owner = ? OR " + nx + "visibility = 'public' OR (" + nx + "visibility = 'shared' AND " + memberCond + ")"
		a := append([]any{f.Project}, memberArgs...)
		if v == "all" {
			cond += " OR " + nx + "visibility = 'community'"
		}
		add(cond+")", a...)
	case v == image.Public || v == image.Community:
		add("visibility = ?", v)
	case v == image.Private:
		add("visibility = 'private' AND owner = ?", f.Project)
	case v == image.Shared:
		add("visibility = 'shared' AND ("+nx+"owner = ? OR "+memberCond+")", append([]any{f.Project}, memberArgs...)...)
	default:
		return "", nil, errs.BadRequest("Invalid visibility value: %s", v)
	}

	in("id", f.IDs)
	in("name", f.Names)
	in("status", f.Statuses)
	in("disk_format", f.DiskFormats)
	in("container_format", f.ContainerFormats)
	in("os_hash_value", f.HashValues)
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	for _, t := range f.Tags {
		add("EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.tag = ?)", t)
	}
	if f.SizeMin != nil {
		add("size >= ?", *f.SizeMin)
	}
	if f.SizeMax != nil {
		add("size <= ?", *f.SizeMax)
	}
	if f.Hidden != nil {
		add("os_hidden = ?", *f.Hidden)
	}
	if f.Protected != nil {
		add("protected = ?", *f.Protected)
	}
	for col, tfs := range map[string][]image.TimeFilter{"created_at": f.CreatedAt, "updated_at": f.UpdatedAt} {
		for _, tf := range tfs {
			op, ok := timeOps[tf.Op]
			if !ok {
				return "", nil, errs.BadRequest("Invalid operator %s for %s.", tf.Op, col)
			}
			// Stored times have microseconds, the API's whole seconds:
			// eq/neq compare the second.
			sec := Micros(tf.At)
			switch tf.Op {
			case "eq":
				add(col+" >= ? AND "+col+" < ?", sec, sec+1e6)
			case "neq":
				add("("+col+" < ? OR "+col+" >= ?)", sec, sec+1e6)
			case "gt", "lte":
				add(col+" "+op+" ?", sec+1e6-1)
			default:
				add(col+" "+op+" ?", sec)
			}
		}
	}
	propNames := make([]string, 0, len(f.Properties))
	for k := range f.Properties {
		propNames = append(propNames, k)
	}
	sort.Strings(propNames)
	for _, k := range propNames {
		add("EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id AND p.name = ? AND p.value = ?)", k, f.Properties[k])
	}

	keys := f.Sort
	if len(keys) == 0 {
		keys = []image.SortKey{{Key: "created_at", Desc: true}}
	}
	hasID := false
	for _, k := range keys {
		if _, ok := sortExpr[k.Key]; !ok {
			return "", nil, errs.BadRequest("Invalid sort key: %s. It must be one of the following: %s.", k.Key, strings.Join(SortKeys(), ", "))
		}
		hasID = hasID || k.Key == "id"
	}
	if !hasID {
		keys = append(keys, image.SortKey{Key: "id", Desc: keys[len(keys)-1].Desc})
	}
	sameDir := true
	for _, k := range keys {
		sameDir = sameDir && k.Desc == keys[0].Desc
	}
	if m := f.Marker; m != nil && sameDir {
		// Keyset pagination with a row value: (a, b) > (?, ?) is one index
		// range seek in both engines.
		var cols []string
		var vals []any
		for _, k := range keys {
			cols = append(cols, sortExpr[k.Key])
			vals = append(vals, sortValue(m, k.Key))
		}
		op := ">"
		if keys[0].Desc {
			op = "<"
		}
		add("("+strings.Join(cols, ", ")+") "+op+" ("+strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+")", vals...)
	} else if m != nil {
		// Mixed directions: rows strictly after the marker, key by key,
		// behind a range on the first key that an index can seek to.
		first := ">="
		if keys[0].Desc {
			first = "<="
		}
		add(sortExpr[keys[0].Key]+" "+first+" ?", sortValue(m, keys[0].Key))
		var ors []string
		var oargs []any
		for i, k := range keys {
			var ands []string
			for _, p := range keys[:i] {
				ands = append(ands, nx+sortExpr[p.Key]+" = ?")
				oargs = append(oargs, sortValue(m, p.Key))
			}
			op := ">"
			if k.Desc {
				op = "<"
			}
			ands = append(ands, nx+sortExpr[k.Key]+" "+op+" ?")
			oargs = append(oargs, sortValue(m, k.Key))
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		add("("+strings.Join(ors, " OR ")+")", oargs...)
	}
	var order []string
	for _, k := range keys {
		d := "ASC"
		if k.Desc {
			d = "DESC"
		}
		order = append(order, sortExpr[k.Key]+" "+d)
	}
	q := `SELECT ` + imageCols + ` FROM images`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + strings.Join(order, ", ")
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return q, args, nil
}

const memberCols = `image_id, member_id, status, created_at, updated_at`

func scanMember(s scanner) (*image.Member, error) {
	var m image.Member
	var c, u int64
	if err := s.Scan(&m.ImageID, &m.MemberID, &m.Status, &c, &u); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = FromMicros(c), FromMicros(u)
	return &m, nil
}

func (s *Image) GetMember(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	m, err := scanMember(s.db.QueryRow(ctx, `SELECT `+memberCols+` FROM image_members WHERE image_id = ? AND member_id = ?`, imageID, memberID))
	if err != nil {
		return nil, notFound(err, "%s is not a member of image %s.", memberID, imageID)
	}
	return m, nil
}

func (s *Image) ListMembers(ctx context.Context, imageID string) ([]*image.Member, error) {
	rows, err := s.db.Query(ctx, `SELECT `+memberCols+` FROM image_members WHERE image_id = ? ORDER BY created_at, member_id`, imageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*image.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Image) CreateMember(ctx context.Context, m *image.Member, maxMembers int) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if maxMembers > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM image_members WHERE image_id = ?`, m.ImageID).Scan(&n); err != nil {
				return err
			}
			if n >= maxMembers {
				return errs.OverQuota("Maximum number of image members exceeded: %d.", maxMembers)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO image_members (`+memberCols+`) VALUES (?,?,?,?,?)`,
			m.ImageID, m.MemberID, m.Status, Micros(m.CreatedAt), Micros(m.UpdatedAt))
		if IsForeignKey(err) {
			return errs.NotFound("No image found with ID %s", m.ImageID)
		}
		return conflict(err, "Member %s already associated with image %s.", m.MemberID, m.ImageID)
	})
}

func (s *Image) UpdateMember(ctx context.Context, m *image.Member) error {
	res, err := s.db.Exec(ctx, `UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?`,
		m.Status, Micros(m.UpdatedAt), m.ImageID, m.MemberID)
	return mustAffect(res, err, "%s is not a member of image %s.", m.MemberID, m.ImageID)
}

func (s *Image) DeleteMember(ctx context.Context, imageID, memberID string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM image_members WHERE image_id = ? AND member_id = ?`, imageID, memberID)
	return mustAffect(res, err, "%s is not a member of image %s.", memberID, imageID)
}

const taskCols = `id, type, status, owner, image_id, input, result, message, request_id, user_id, expires_at, created_at, updated_at`

func scanTask(s scanner) (*image.Task, error) {
	var t image.Task
	var in, res string
	var e, c, u int64
	if err := s.Scan(&t.ID, &t.Type, &t.Status, &t.Owner, &t.ImageID, &in, &res, &t.Message, &t.RequestID, &t.UserID, &e, &c, &u); err != nil {
		return nil, err
	}
	fromJSON(in, &t.Input)
	fromJSON(res, &t.Result)
	t.ExpiresAt, t.CreatedAt, t.UpdatedAt = FromMicros(e), FromMicros(c), FromMicros(u)
	return &t, nil
}

func (s *Image) CreateTask(ctx context.Context, t *image.Task) error {
	_, err := s.db.Exec(ctx, `INSERT INTO image_tasks (`+taskCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.ID, t.Type, t.Status, t.Owner, t.ImageID, jsonText(t.Input), jsonText(t.Result), t.Message, t.RequestID, t.UserID,
		Micros(t.ExpiresAt), Micros(t.CreatedAt), Micros(t.UpdatedAt))
	return err
}

func (s *Image) UpdateTask(ctx context.Context, t *image.Task) error {
	res, err := s.db.Exec(ctx, `UPDATE image_tasks SET status = ?, result = ?, message = ?, updated_at = ? WHERE id = ?`,
		t.Status, jsonText(t.Result), t.Message, Micros(t.UpdatedAt), t.ID)
	return mustAffect(res, err, "Task with the given ID %s was not found.", t.ID)
}

func (s *Image) GetTask(ctx context.Context, id string) (*image.Task, error) {
	t, err := scanTask(s.db.QueryRow(ctx, `SELECT `+taskCols+` FROM image_tasks WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "Task with the given ID %s was not found.", id)
	}
	return t, nil
}

func (s *Image) ListTasks(ctx context.Context, owner, imageID string, limit int) ([]*image.Task, error) {
	q := `SELECT ` + taskCols + ` FROM image_tasks WHERE 1=1`
	var args []any
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	if imageID != "" {
		q += ` AND image_id = ?`
		args = append(args, imageID)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*image.Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
