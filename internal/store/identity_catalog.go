package store

import (
	"context"
	"database/sql"

	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/platform/errs"
)

func (s *Identity) CreateRegion(ctx context.Context, r *identity.Region) error {
	_, err := s.db.Exec(ctx, `INSERT INTO regions (id, description, parent_region_id, extra) VALUES (?,?,?,?)`, r.ID, r.Description, nullStr(r.ParentRegionID), jsonText(r.Extra))
	if IsForeignKey(err) {
		return errs.NotFound("Could not find region: %s.", r.ParentRegionID)
	}
	return conflict(err, "Conflict occurred attempting to store region - Duplicate ID, %s.", r.ID)
}

func scanRegion(s scanner) (*identity.Region, error) {
	var r identity.Region
	var parent sql.NullString
	var extra string
	if err := s.Scan(&r.ID, &r.Description, &parent, &extra); err != nil {
		return nil, err
	}
	r.ParentRegionID = parent.String
	fromJSON(extra, &r.Extra)
	return &r, nil
}

func (s *Identity) GetRegion(ctx context.Context, id string) (*identity.Region, error) {
	r, err := scanRegion(s.db.QueryRow(ctx, `SELECT id, description, parent_region_id, extra FROM regions WHERE id = ?`, id))
	return r, notFound(err, "Could not find region: %s.", id)
}

func (s *Identity) ListRegions(ctx context.Context) ([]*identity.Region, error) {
	rows, err := s.db.Query(ctx, `SELECT id, description, parent_region_id, extra FROM regions ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Region
	for rows.Next() {
		r, err := scanRegion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateRegion(ctx context.Context, r *identity.Region) error {
	res, err := s.db.Exec(ctx, `UPDATE regions SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?`, r.Description, nullStr(r.ParentRegionID), jsonText(r.Extra), r.ID)
	if IsForeignKey(err) {
		return errs.NotFound("Could not find region: %s.", r.ParentRegionID)
	}
	return mustAffect(res, err, "Could not find region: %s.", r.ID)
}

func (s *Identity) DeleteRegion(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM regions WHERE id = ?`, id)
	if IsForeignKey(err) {
		return errs.Forbidden("Region %s has child regions or endpoints.", id)
	}
	return mustAffect(res, err, "Could not find region: %s.", id)
}

func scanService(s scanner) (*identity.ServiceRecord, error) {
	var v identity.ServiceRecord
	var extra string
	if err := s.Scan(&v.ID, &v.Type, &v.Name, &v.Description, &v.Enabled, &extra); err != nil {
		return nil, err
	}
	fromJSON(extra, &v.Extra)
	return &v, nil
}

func (s *Identity) CreateService(ctx context.Context, v *identity.ServiceRecord) error {
	_, err := s.db.Exec(ctx, `INSERT INTO services (id, type, name, description, enabled, extra) VALUES (?,?,?,?,?,?)`, v.ID, v.Type, v.Name, v.Description, v.Enabled, jsonText(v.Extra))
	return conflict(err, "Duplicate service %s.", v.ID)
}

func (s *Identity) GetService(ctx context.Context, id string) (*identity.ServiceRecord, error) {
	v, err := scanService(s.db.QueryRow(ctx, `SELECT id, type, name, description, enabled, extra FROM services WHERE id = ?`, id))
	return v, notFound(err, "Could not find service: %s.", id)
}

func (s *Identity) ListServices(ctx context.Context) ([]*identity.ServiceRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT id, type, name, description, enabled, extra FROM services ORDER BY type, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.ServiceRecord
	for rows.Next() {
		v, err := scanService(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateService(ctx context.Context, v *identity.ServiceRecord) error {
	res, err := s.db.Exec(ctx, `UPDATE services SET type = ?, name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?`, v.Type, v.Name, v.Description, v.Enabled, jsonText(v.Extra), v.ID)
	return mustAffect(res, err, "Could not find service: %s.", v.ID)
}

func (s *Identity) DeleteService(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM services WHERE id = ?`, id)
	return mustAffect(res, err, "Could not find service: %s.", id)
}

func scanEndpoint(s scanner) (*identity.Endpoint, error) {
	var e identity.Endpoint
	var region sql.NullString
	var extra string
	if err := s.Scan(&e.ID, &e.ServiceID, &e.Interface, &region, &e.URL, &e.Enabled, &extra); err != nil {
		return nil, err
	}
	e.RegionID = region.String
	fromJSON(extra, &e.Extra)
	return &e, nil
}

func (s *Identity) CreateEndpoint(ctx context.Context, e *identity.Endpoint) error {
	_, err := s.db.Exec(ctx, `INSERT INTO endpoints (id, service_id, interface, region_id, url, enabled, extra) VALUES (?,?,?,?,?,?,?)`, e.ID, e.ServiceID, e.Interface, nullStr(e.RegionID), e.URL, e.Enabled, jsonText(e.Extra))
	if IsForeignKey(err) {
		return errs.BadRequest("Could not find service or region for endpoint: %s, %s.", e.ServiceID, e.RegionID)
	}
	return conflict(err, "Duplicate endpoint %s.", e.ID)
}

func (s *Identity) GetEndpoint(ctx context.Context, id string) (*identity.Endpoint, error) {
	e, err := scanEndpoint(s.db.QueryRow(ctx, `SELECT id, service_id, interface, region_id, url, enabled, extra FROM endpoints WHERE id = ?`, id))
	return e, notFound(err, "Could not find endpoint: %s.", id)
}

func (s *Identity) ListEndpoints(ctx context.Context) ([]*identity.Endpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT id, service_id, interface, region_id, url, enabled, extra FROM endpoints ORDER BY service_id, interface, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Identity) UpdateEndpoint(ctx context.Context, e *identity.Endpoint) error {
	res, err := s.db.Exec(ctx, `UPDATE endpoints SET service_id = ?, interface = ?, region_id = ?, url = ?, enabled = ?, extra = ? WHERE id = ?`, e.ServiceID, e.Interface, nullStr(e.RegionID), e.URL, e.Enabled, jsonText(e.Extra), e.ID)
	if IsForeignKey(err) {
		return errs.BadRequest("Could not find service or region for endpoint: %s, %s.", e.ServiceID, e.RegionID)
	}
	return mustAffect(res, err, "Could not find endpoint: %s.", e.ID)
}

func (s *Identity) DeleteEndpoint(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM endpoints WHERE id = ?`, id)
	return mustAffect(res, err, "Could not find endpoint: %s.", id)
}
