package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/gureum/gureum/internal/platform/errs"
)

// jsonText encodes v for a TEXT column ("{}" / "[]" for nil maps/slices).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		switch v.(type) {
		case []string, []any, []map[string]any:
			return "[]"
		}
		return "{}"
	}
	return string(b)
}

// fromJSON decodes a TEXT column, ignoring empty values.
func fromJSON(s string, v any) {
	if s == "" {
		return
	}
	_ = json.Unmarshal([]byte(s), v)
}

// notFound maps sql.ErrNoRows to a NotFound error with msg.
func notFound(err error, format string, a ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFound(format, a...)
	}
	return err
}

// conflict maps a unique violation to a Conflict error with msg.
func conflict(err error, format string, a ...any) error {
	if IsUnique(err) {
		return errs.Conflict(format, a...)
	}
	return err
}

// mustAffect returns NotFound when res touched no row.
func mustAffect(res sql.Result, err error, format string, a ...any) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.NotFound(format, a...)
	}
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type scanner interface{ Scan(dest ...any) error }

// queryColumn runs a one-column query into a slice (empty, not nil, when
// no row matches).
func queryColumn[T any](ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryStrings is queryColumn for the common case of IDs and names.
func queryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	return queryColumn[string](ctx, q, query, args...)
}

// queryCounts runs a two-column query (a name and a number: a quota's
// resource and limit, a subnet and its allocations) into a map.
func queryCounts(ctx context.Context, q Querier, query string, args ...any) (map[string]int, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
