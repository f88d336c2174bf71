package store

import (
	"context"
	"time"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
)

const appCredCols = `id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, roles, access_rules, created_at`

func scanAppCred(s scanner) (*identity.AppCred, error) {
	var a identity.AppCred
	var roles, rules string
	var exp, ca int64
	if err := s.Scan(&a.ID, &a.Name, &a.UserID, &a.ProjectID, &a.SecretHash, &a.Description, &exp, &a.Unrestricted, &roles, &rules, &ca); err != nil {
		return nil, err
	}
	fromJSON(roles, &a.Roles)
	fromJSON(rules, &a.AccessRules)
	a.ExpiresAt, a.CreatedAt = FromMicros(exp), FromMicros(ca)
	return &a, nil
}

func (s *Identity) CreateAppCred(ctx context.Context, a *identity.AppCred) error {
	_, err := s.db.Exec(ctx, `INSERT INTO application_credentials (`+appCredCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		a.ID, a.Name, a.UserID, a.ProjectID, a.SecretHash, a.Description, Micros(a.ExpiresAt), a.Unrestricted, jsonText(a.Roles), jsonText(a.AccessRules), Micros(a.CreatedAt))
	return conflict(err, "Conflict occurred attempting to store application_credential - Duplicate entry found with name %s.", a.Name)
}

func (s *Identity) GetAppCred(ctx context.Context, id string) (*identity.AppCred, error) {
	a, err := scanAppCred(s.db.QueryRow(ctx, `SELECT `+appCredCols+` FROM application_credentials WHERE id = ?`, id))
	return a, notFound(err, "Could not find Application Credential: %s.", id)
}

func (s *Identity) ListAppCreds(ctx context.Context, userID string) ([]*identity.AppCred, error) {
	rows, err := s.db.Query(ctx, `SELECT `+appCredCols+` FROM application_credentials WHERE user_id = ? ORDER BY name`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.AppCred
	for rows.Next() {
		a, err := scanAppCred(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Identity) DeleteAppCred(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM application_credentials WHERE id = ?`, id)
	return mustAffect(res, err, "Could not find Application Credential: %s.", id)
}

func (s *Identity) FernetKeys(ctx context.Context) ([]identity.FernetKey, error) {
	rows, err := s.db.Query(ctx, `SELECT idx, key_b64, created_at FROM fernet_keys ORDER BY idx`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []identity.FernetKey
	for rows.Next() {
		var k identity.FernetKey
		var ca int64
		if err := rows.Scan(&k.Index, &k.Key, &ca); err != nil {
			return nil, err
		}
		k.CreatedAt = FromMicros(ca)
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Identity) ReplaceFernetKeys(ctx context.Context, expect, keys []identity.FernetKey) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT idx, key_b64 FROM fernet_keys ORDER BY idx`)
		if err != nil {
			return err
		}
		var cur []identity.FernetKey
		for rows.Next() {
			var k identity.FernetKey
			if err := rows.Scan(&k.Index, &k.Key); err != nil {
				rows.Close()
				return err
			}
			cur = append(cur, k)
		}
		rows.Close()
		if len(cur) != len(expect) {
			return errs.Conflict("Fernet keys changed concurrently.")
		}
		for i := range cur {
			if cur[i].Index != expect[i].Index || cur[i].Key != expect[i].Key {
				return errs.Conflict("Fernet keys changed concurrently.")
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM fernet_keys`); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO fernet_keys (idx, key_b64, created_at) VALUES (?,?,?)`, k.Index, k.Key, Micros(k.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Identity) AddRevocation(ctx context.Context, r identity.Revocation) error {
	_, err := s.db.Exec(ctx, `INSERT INTO revocation_events (audit_id, revoked_at, expires_at) VALUES (?,?,?)`, r.AuditID, Micros(r.RevokedAt), Micros(r.ExpiresAt))
	if IsUnique(err) {
		return nil
	}
	return err
}

func (s *Identity) RevocationsSince(ctx context.Context, t time.Time) ([]identity.Revocation, error) {
	rows, err := s.db.Query(ctx, `SELECT audit_id, revoked_at, expires_at FROM revocation_events WHERE revoked_at >= ? ORDER BY revoked_at`, Micros(t))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []identity.Revocation
	for rows.Next() {
		var r identity.Revocation
		var ra, ea int64
		if err := rows.Scan(&r.AuditID, &ra, &ea); err != nil {
			return nil, err
		}
		r.RevokedAt, r.ExpiresAt = FromMicros(ra), FromMicros(ea)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Identity) PruneRevocations(ctx context.Context, now time.Time) error {
	_, err := s.db.Exec(ctx, `DELETE FROM revocation_events WHERE expires_at < ?`, Micros(now))
	return err
}
