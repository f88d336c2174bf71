package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
)

// Identity implements identity.Store.
type Identity struct{ db *DB }

// NewIdentity returns the identity store.
func NewIdentity(db *DB) *Identity { return &Identity{db: db} }

var _ identity.Store = (*Identity)(nil)

const projectCols = `id, name, domain_id, parent_id, is_domain, enabled, description, extra, created_at`

func scanProject(s scanner) (*identity.Project, error) {
	var p identity.Project
	var parent sql.NullString
	var extra string
	var created int64
	if err := s.Scan(&p.ID, &p.Name, &p.DomainID, &parent, &p.IsDomain, &p.Enabled, &p.Description, &extra, &created); err != nil {
		return nil, err
	}
	p.ParentID = parent.String
	fromJSON(extra, &p.Extra)
	p.CreatedAt = FromMicros(created)
	return &p, nil
}

func (s *Identity) projectTags(ctx context.Context, q Querier, ps []*identity.Project) error {
	if len(ps) == 0 {
		return nil
	}
	byID := map[string]*identity.Project{}
	ids := make([]string, 0, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
		p.Tags = []string{}
		ids = append(ids, p.ID)
	}
	for start := 0; start < len(ids); start += 500 {
		end := min(start+500, len(ids))
		in, args := In(ids[start:end])
		rows, err := q.Query(ctx, `SELECT project_id, tag FROM project_tags WHERE project_id IN `+in+` ORDER BY tag`, args...)
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
	}
	return nil
}

func (s *Identity) setTags(ctx context.Context, tx *Tx, id string, tags []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM project_tags WHERE project_id = ?`, id); err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := tx.Exec(ctx, `INSERT INTO project_tags (project_id, tag) VALUES (?, ?)`, id, t); err != nil {
			return conflict(err, "Duplicate tag %s.", t)
		}
	}
	return nil
}

func (s *Identity) CreateProject(ctx context.Context, p *identity.Project) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO projects (`+projectCols+`) VALUES (?,?,?,?,?,?,?,?,?)`,
			p.ID, p.Name, p.DomainID, nullStr(p.ParentID), p.IsDomain, p.Enabled, p.Description, jsonText(p.Extra), Micros(p.CreatedAt))
		if err != nil {
			kind := "project"
			if p.IsDomain {
				kind = "domain"
			}
			return conflict(err, "Conflict occurred attempting to store %s - Duplicate entry found with name %s.", kind, p.Name)
		}
		return s.setTags(ctx, tx, p.ID, p.Tags)
	})
}

func (s *Identity) GetProject(ctx context.Context, id string) (*identity.Project, error) {
	p, err := scanProject(s.db.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "Could not find project: %s.", id)
	}
	return p, s.projectTags(ctx, s.db, []*identity.Project{p})
}

func (s *Identity) GetProjectByName(ctx context.Context, domainID, name string) (*identity.Project, error) {
	p, err := scanProject(s.db.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE domain_id = ? AND name = ?`, domainID, name))
	if err != nil {
		return nil, notFound(err, "Could not find project: %s.", name)
	}
	return p, s.projectTags(ctx, s.db, []*identity.Project{p})
}

func (s *Identity) ListProjects(ctx context.Context, f identity.ProjectFilter) ([]*identity.Project, error) {
	q := `SELECT ` + projectCols + ` FROM projects WHERE 1=1`
	var args []any
	add := func(cond string, a ...any) { q += " AND " + cond; args = append(args, a...) }
	if f.DomainID != "" {
		add("domain_id = ?", f.DomainID)
	}
	if f.ParentID != "" {
		add("parent_id = ?", f.ParentID)
	}
	if f.Name != "" {
		add("name = ?", f.Name)
	}
	if f.IsDomain != nil {
		add("is_domain = ?", *f.IsDomain)
	}
	if f.Enabled != nil {
		add("enabled = ?", *f.Enabled)
	}
	if f.IDs != nil {
		in, a := In(f.IDs)
		add("id IN "+in, a...)
	}
	for _, t := range f.Tags {
		add("EXISTS (SELECT 1 FROM project_tags t WHERE t.project_id = projects.id AND t.tag = ?)", t)
	}
	if len(f.TagsAny) > 0 {
		in, a := In(f.TagsAny)
		add("EXISTS (SELECT 1 FROM project_tags t WHERE t.project_id = projects.id AND t.tag IN "+in+")", a...)
	}
	if len(f.NotTags) > 0 {
		// not-tags: exclude projects having all of them.
		in, a := In(f.NotTags)
		a = append(a, len(f.NotTags))
		add("(SELECT COUNT(*) FROM project_tags t WHERE t.project_id = projects.id AND t.tag IN "+in+") < ?", a...)
	}
	if len(f.NotTagsAny) > 0 {
		in, a := In(f.NotTagsAny)
		add("NOT EXISTS (SELECT 1 FROM project_tags t WHERE t.project_id = projects.id AND t.tag IN "+in+")", a...)
	}
	q += " ORDER BY name, id"
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.projectTags(ctx, s.db, out)
}

func (s *Identity) UpdateProject(ctx context.Context, p *identity.Project) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE projects SET name = ?, enabled = ?, description = ?, extra = ?, parent_id = ? WHERE id = ?`,
			p.Name, p.Enabled, p.Description, jsonText(p.Extra), nullStr(p.ParentID), p.ID)
		if err != nil {
			return conflict(err, "Conflict occurred attempting to store project - Duplicate entry found with name %s.", p.Name)
		}
		if err := mustAffect(res, nil, "Could not find project: %s.", p.ID); err != nil {
			return err
		}
		return s.setTags(ctx, tx, p.ID, p.Tags)
	})
}

func (s *Identity) DeleteProject(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		var isDomain bool
		if err := tx.QueryRow(ctx, `SELECT is_domain FROM projects WHERE id = ?`, id).Scan(&isDomain); err != nil {
			return notFound(err, "Could not find project: %s.", id)
		}
		if !isDomain {
			var children int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM projects WHERE parent_id = ?`, id).Scan(&children); err != nil {
				return err
			}
			if children > 0 {
				return errs.Forbidden("Cannot delete project %s: it is not a leaf in the hierarchy.", id)
			}
		}
		if isDomain {
			// Deleting a (disabled) domain deletes everything in it, in this
			// one transaction, as keystone does.
			stmts := []string{
				`DELETE FROM assignments WHERE target_id IN (SELECT id FROM projects WHERE domain_id = ? AND is_domain = FALSE)`,
				`DELETE FROM application_credentials WHERE project_id IN (SELECT id FROM projects WHERE domain_id = ? AND is_domain = FALSE)`,
				`DELETE FROM projects WHERE domain_id = ? AND is_domain = FALSE`,
				`DELETE FROM assignments WHERE actor_id IN (SELECT id FROM users WHERE domain_id = ?)`,
				`DELETE FROM assignments WHERE actor_id IN (SELECT id FROM groups_ WHERE domain_id = ?)`,
				`DELETE FROM users WHERE domain_id = ?`,
				`DELETE FROM groups_ WHERE domain_id = ?`,
				`DELETE FROM roles WHERE domain_id = ?`,
			}
			for _, st := range stmts {
				if _, err := tx.Exec(ctx, st, id); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE target_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM application_credentials WHERE project_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM projects WHERE id = ?`, id)
		return err
	})
}

const userCols = `id, name, domain_id, enabled, default_project_id, description, password_hash, password_created_at, password_expires_at, options, extra, failed_auth_count, failed_auth_at, tokens_valid_after, created_at`

func scanUser(s scanner) (*identity.User, error) {
	var u identity.User
	var dp sql.NullString
	var opts, extra string
	var pc, pe, fa, tva, ca int64
	if err := s.Scan(&u.ID, &u.Name, &u.DomainID, &u.Enabled, &dp, &u.Description, &u.PasswordHash, &pc, &pe, &opts, &extra, &u.FailedAuthCount, &fa, &tva, &ca); err != nil {
		return nil, err
	}
	u.DefaultProjectID = dp.String
	fromJSON(opts, &u.Options)
	fromJSON(extra, &u.Extra)
	u.PasswordCreatedAt, u.PasswordExpiresAt, u.FailedAuthAt = FromMicros(pc), FromMicros(pe), FromMicros(fa)
	u.TokensValidAfter, u.CreatedAt = FromMicros(tva), FromMicros(ca)
	return &u, nil
}

func (s *Identity) CreateUser(ctx context.Context, u *identity.User) error {
	_, err := s.db.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		u.ID, u.Name, u.DomainID, u.Enabled, nullStr(u.DefaultProjectID), u.Description, u.PasswordHash,
		Micros(u.PasswordCreatedAt), Micros(u.PasswordExpiresAt), jsonText(u.Options), jsonText(u.Extra),
		u.FailedAuthCount, Micros(u.FailedAuthAt), Micros(u.TokensValidAfter), Micros(u.CreatedAt))
	if IsForeignKey(err) {
		return errs.BadRequest("Could not find domain: %s.", u.DomainID)
	}
	return conflict(err, "Conflict occurred attempting to store user - Duplicate entry found with name %s at domain ID %s.", u.Name, u.DomainID)
}

func (s *Identity) GetUser(ctx context.Context, id string) (*identity.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "Could not find user: %s.", id)
}

func (s *Identity) GetUserByName(ctx context.Context, domainID, name string) (*identity.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE domain_id = ? AND name = ?`, domainID, name))
	return u, notFound(err, "Could not find user: %s.", name)
}

func (s *Identity) ListUsers(ctx context.Context, f identity.UserFilter) ([]*identity.User, error) {
	q := `SELECT ` + userCols + ` FROM users WHERE 1=1`
	var args []any
	add := func(cond string, a ...any) { q += " AND " + cond; args = append(args, a...) }
	if f.DomainID != "" {
		add("domain_id = ?", f.DomainID)
	}
	if f.Name != "" {
		add("name = ?", f.Name)
	}
	if f.Enabled != nil {
		add("enabled = ?", *f.Enabled)
	}
	if f.GroupID != "" {
		add("id IN (SELECT user_id FROM user_groups WHERE group_id = ?)", f.GroupID)
	}
	if f.IDs != nil {
		in, a := In(f.IDs)
		add("id IN "+in, a...)
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY name, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateUser(ctx context.Context, u *identity.User) error {
	res, err := s.db.Exec(ctx, `UPDATE users SET name = ?, enabled = ?, default_project_id = ?, description = ?, password_hash = ?,
		password_created_at = ?, password_expires_at = ?, options = ?, extra = ?, failed_auth_count = ?, failed_auth_at = ?, tokens_valid_after = ?
		WHERE id = ?`,
		u.Name, u.Enabled, nullStr(u.DefaultProjectID), u.Description, u.PasswordHash, Micros(u.PasswordCreatedAt), Micros(u.PasswordExpiresAt),
		jsonText(u.Options), jsonText(u.Extra), u.FailedAuthCount, Micros(u.FailedAuthAt), Micros(u.TokensValidAfter), u.ID)
	if err != nil {
		return conflict(err, "Conflict occurred attempting to store user - Duplicate entry found with name %s.", u.Name)
	}
	return mustAffect(res, nil, "Could not find user: %s.", u.ID)
}

func (s *Identity) DeleteUser(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE actor_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM users WHERE id = ?`, id)
		return mustAffect(res, err, "Could not find user: %s.", id)
	})
}

func (s *Identity) RecordAuthFailure(ctx context.Context, userID string, at time.Time) (int, error) {
	var n int
	err := s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET failed_auth_count = failed_auth_count + 1, failed_auth_at = ? WHERE id = ?`, Micros(at), userID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT failed_auth_count FROM users WHERE id = ?`, userID).Scan(&n)
	})
	return n, err
}

func (s *Identity) ResetAuthFailures(ctx context.Context, userID string) error {
	_, err := s.db.Exec(ctx, `UPDATE users SET failed_auth_count = 0, failed_auth_at = 0 WHERE id = ? AND failed_auth_count <> 0`, userID)
	return err
}

const groupCols = `id, name, domain_id, description, extra, created_at`

func scanGroup(s scanner) (*identity.Group, error) {
	var g identity.Group
	var extra string
	var ca int64
	if err := s.Scan(&g.ID, &g.Name, &g.DomainID, &g.Description, &extra, &ca); err != nil {
		return nil, err
	}
	fromJSON(extra, &g.Extra)
	g.CreatedAt = FromMicros(ca)
	return &g, nil
}

func (s *Identity) CreateGroup(ctx context.Context, g *identity.Group) error {
	_, err := s.db.Exec(ctx, `INSERT INTO groups_ (`+groupCols+`) VALUES (?,?,?,?,?,?)`, g.ID, g.Name, g.DomainID, g.Description, jsonText(g.Extra), Micros(g.CreatedAt))
	if IsForeignKey(err) {
		return errs.BadRequest("Could not find domain: %s.", g.DomainID)
	}
	return conflict(err, "Conflict occurred attempting to store group - Duplicate entry found with name %s.", g.Name)
}

func (s *Identity) GetGroup(ctx context.Context, id string) (*identity.Group, error) {
	g, err := scanGroup(s.db.QueryRow(ctx, `SELECT `+groupCols+` FROM groups_ WHERE id = ?`, id))
	return g, notFound(err, "Could not find group: %s.", id)
}

func (s *Identity) ListGroups(ctx context.Context, domainID, name string) ([]*identity.Group, error) {
	q := `SELECT ` + groupCols + ` FROM groups_ WHERE 1=1`
	var args []any
	if domainID != "" {
		q += " AND domain_id = ?"
		args = append(args, domainID)
	}
	if name != "" {
		q += " AND name = ?"
		args = append(args, name)
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY name, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateGroup(ctx context.Context, g *identity.Group) error {
	res, err := s.db.Exec(ctx, `UPDATE groups_ SET name = ?, description = ?, extra = ? WHERE id = ?`, g.Name, g.Description, jsonText(g.Extra), g.ID)
	if err != nil {
		return conflict(err, "Conflict occurred attempting to store group - Duplicate entry found with name %s.", g.Name)
	}
	return mustAffect(res, nil, "Could not find group: %s.", g.ID)
}

func (s *Identity) DeleteGroup(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE actor_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM groups_ WHERE id = ?`, id)
		return mustAffect(res, err, "Could not find group: %s.", id)
	})
}

func (s *Identity) AddUserToGroup(ctx context.Context, userID, groupID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO user_groups (user_id, group_id) VALUES (?, ?)`, userID, groupID)
	if IsUnique(err) {
		return nil
	}
	if IsForeignKey(err) {
		return errs.NotFound("Could not find user or group: %s, %s.", userID, groupID)
	}
	return err
}

func (s *Identity) RemoveUserFromGroup(ctx context.Context, userID, groupID string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM user_groups WHERE user_id = ? AND group_id = ?`, userID, groupID)
	return mustAffect(res, err, "User %s is not a member of group %s.", userID, groupID)
}

func (s *Identity) UserGroupIDs(ctx context.Context, userID string) ([]string, error) {
	return queryStrings(ctx, s.db, `SELECT group_id FROM user_groups WHERE user_id = ? ORDER BY group_id`, userID)
}

const roleCols = `id, name, domain_id, description, options, extra, created_at`

func scanRole(s scanner) (*identity.Role, error) {
	var r identity.Role
	var opts, extra string
	var ca int64
	if err := s.Scan(&r.ID, &r.Name, &r.DomainID, &r.Description, &opts, &extra, &ca); err != nil {
		return nil, err
	}
	fromJSON(opts, &r.Options)
	fromJSON(extra, &r.Extra)
	r.CreatedAt = FromMicros(ca)
	return &r, nil
}

func (s *Identity) CreateRole(ctx context.Context, r *identity.Role) error {
	_, err := s.db.Exec(ctx, `INSERT INTO roles (`+roleCols+`) VALUES (?,?,?,?,?,?,?)`, r.ID, r.Name, r.DomainID, r.Description, jsonText(r.Options), jsonText(r.Extra), Micros(r.CreatedAt))
	return conflict(err, "Conflict occurred attempting to store role - Duplicate entry found with name %s.", r.Name)
}

func (s *Identity) GetRole(ctx context.Context, id string) (*identity.Role, error) {
	r, err := scanRole(s.db.QueryRow(ctx, `SELECT `+roleCols+` FROM roles WHERE id = ?`, id))
	return r, notFound(err, "Could not find role: %s.", id)
}

func (s *Identity) ListRoles(ctx context.Context, domainID, name string) ([]*identity.Role, error) {
	q := `SELECT ` + roleCols + ` FROM roles WHERE domain_id = ?`
	args := []any{domainID}
	if name != "" {
		q += " AND name = ?"
		args = append(args, name)
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY name, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateRole(ctx context.Context, r *identity.Role) error {
	res, err := s.db.Exec(ctx, `UPDATE roles SET name = ?, description = ?, options = ?, extra = ? WHERE id = ?`, r.Name, r.Description, jsonText(r.Options), jsonText(r.Extra), r.ID)
	if err != nil {
		return conflict(err, "Conflict occurred attempting to store role - Duplicate entry found with name %s.", r.Name)
	}
	return mustAffect(res, nil, "Could not find role: %s.", r.ID)
}

func (s *Identity) DeleteRole(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		for _, st := range []string{
			`DELETE FROM assignments WHERE role_id = ?`,
			`DELETE FROM implied_roles WHERE prior_role_id = ? OR implied_role_id = ?`,
		} {
			args := []any{id}
			if strings.Count(st, "?") == 2 {
				args = append(args, id)
			}
			if _, err := tx.Exec(ctx, st, args...); err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM roles WHERE id = ?`, id)
		return mustAffect(res, err, "Could not find role: %s.", id)
	})
}

func (s *Identity) AddImpliedRole(ctx context.Context, prior, implied string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)`, prior, implied)
	if IsUnique(err) {
		return nil
	}
	if IsForeignKey(err) {
		return errs.NotFound("Could not find role: %s.", implied)
	}
	return err
}

func (s *Identity) RemoveImpliedRole(ctx context.Context, prior, implied string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?`, prior, implied)
	return mustAffect(res, err, "%s does not imply %s.", prior, implied)
}

func (s *Identity) ImpliedRoles(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.Query(ctx, `SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var p, i string
		if err := rows.Scan(&p, &i); err != nil {
			return nil, err
		}
		out[p] = append(out[p], i)
	}
	return out, rows.Err()
}

func (s *Identity) Grant(ctx context.Context, a identity.Assignment) error {
	_, err := s.db.Exec(ctx, `INSERT INTO assignments (type, actor_id, target_id, role_id, inherited) VALUES (?,?,?,?,?)`, a.Type, a.ActorID, a.TargetID, a.RoleID, a.Inherited)
	if IsUnique(err) {
		return nil // granting twice is not an error in keystone
	}
	if IsForeignKey(err) {
		return errs.NotFound("Could not find role: %s.", a.RoleID)
	}
	return err
}

func (s *Identity) Revoke(ctx context.Context, a identity.Assignment) error {
	res, err := s.db.Exec(ctx, `DELETE FROM assignments WHERE type = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?`, a.Type, a.ActorID, a.TargetID, a.RoleID, a.Inherited)
	return mustAffect(res, err, "Could not find role assignment with role: %s, actor: %s, target: %s.", a.RoleID, a.ActorID, a.TargetID)
}

func (s *Identity) ListAssignments(ctx context.Context, f identity.AssignmentFilter) ([]identity.Assignment, error) {
	q := `SELECT type, actor_id, target_id, role_id, inherited FROM assignments WHERE 1=1`
	var args []any
	for _, c := range []struct {
		col  string
		vals []string
	}{{"type", f.Types}, {"actor_id", f.ActorIDs}, {"target_id", f.TargetIDs}, {"role_id", f.RoleIDs}} {
		if c.vals != nil {
			in, a := In(c.vals)
			q += " AND " + c.col + " IN " + in
			args = append(args, a...)
		}
	}
	if f.Inherited != nil {
		q += " AND inherited = ?"
		args = append(args, *f.Inherited)
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY type, actor_id, target_id, role_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []identity.Assignment
	for rows.Next() {
		var a identity.Assignment
		if err := rows.Scan(&a.Type, &a.ActorID, &a.TargetID, &a.RoleID, &a.Inherited); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
