package store

import (
	"context"
	"strconv"

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
