package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations live in migrations/<component>/NNNN_name.sql, one numbered
// sequence per component so services can evolve their schemas
// independently. A file NNNN_name.postgres.sql or NNNN_name.sqlite.sql
// replaces the common one for that engine. Applied versions are recorded
// in schema_migrations; each file runs in its own transaction.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	component string
	version   int
	name      string
	sql       string
}

func (db *DB) loadMigrations() ([]migration, error) {
	var out []migration
	comps, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	for _, c := range comps {
		if !c.IsDir() {
			continue
		}
		files, err := fs.ReadDir(migrations, path.Join("migrations", c.Name()))
		if err != nil {
			return nil, err
		}
		byVersion := map[int]migration{}
		for _, f := range files {
			name := f.Name()
			if !strings.HasSuffix(name, ".sql") {
				continue
			}
			base := strings.TrimSuffix(name, ".sql")
			engine := ""
			if i := strings.LastIndex(base, "."); i >= 0 {
				engine = base[i+1:]
				base = base[:i]
			}
			if engine != "" && engine != string(db.dialect) {
				continue
			}
			num, _, _ := strings.Cut(base, "_")
			v, err := strconv.Atoi(num)
			if err != nil {
				return nil, fmt.Errorf("migration %s/%s: bad number", c.Name(), name)
			}
			if prev, ok := byVersion[v]; ok && engine == "" && prev.name != "" {
				continue // the engine-specific file wins
			}
			b, err := migrations.ReadFile(path.Join("migrations", c.Name(), name))
			if err != nil {
				return nil, err
			}
			byVersion[v] = migration{component: c.Name(), version: v, name: name, sql: string(b)}
		}
		for _, m := range byVersion {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].component != out[j].component {
			return out[i].component < out[j].component
		}
		return out[i].version < out[j].version
	})
	return out, nil
}

// Migrate applies the migrations not yet applied.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	ms, err := db.loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := db.InTx(ctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = ? AND version = ?`, m.component, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitSQL(m.sql) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (component, version, name) VALUES (?, ?, ?)`, m.component, m.version, m.name)
			return err
		})
		if err != nil {
			if IsUnique(err) {
				continue // another server applied it concurrently
			}
			return fmt.Errorf("store: migration %s/%s: %w", m.component, m.name, err)
		}
	}
	return nil
}

// splitSQL splits a migration on semicolons that end a line.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			if st := strings.TrimSpace(cur.String()); st != ";" {
				out = append(out, st)
			}
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
