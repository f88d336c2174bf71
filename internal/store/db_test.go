package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gureum/gureum/internal/store"
	"github.com/gureum/gureum/internal/store/storetest"
)

func TestMigrationsAndConstraints(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Applying again is a no-op.
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = ?`, "identity").Scan(&n); err != nil || n == 0 {
			t.Fatalf("identity migrations recorded: %d %v", n, err)
		}
		if _, err := db.Exec(ctx, `CREATE TABLE t_unique (a TEXT PRIMARY KEY, b TEXT REFERENCES t_unique(a))`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO t_unique (a) VALUES (?)`, "x"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Exec(ctx, `INSERT INTO t_unique (a) VALUES (?)`, "x")
		if !store.IsUnique(err) {
			t.Fatalf("duplicate insert: %v, want unique violation", err)
		}
		_, err = db.Exec(ctx, `INSERT INTO t_unique (a, b) VALUES (?, ?)`, "y", "missing")
		if !store.IsForeignKey(err) {
			t.Fatalf("dangling reference: %v, want foreign key violation", err)
		}
		// A failed transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO t_unique (a) VALUES (?)`, "z"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v", err)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM t_unique WHERE a = ?`, "z").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled back row present: %d %v", n, err)
		}
		// Placeholders inside string literals are left alone.
		var s string
		if err := db.QueryRow(ctx, `SELECT 'a?b' || ?`, "c").Scan(&s); err != nil || s != "a?bc" {
			t.Fatalf("rebind: %q %v", s, err)
		}
	})
}

func TestIn(t *testing.T) {
	q, args := store.In([]string{"a", "b"})
	if q != "(?,?)" || len(args) != 2 {
		t.Fatalf("%s %v", q, args)
	}
	if q, _ := store.In([]string{}); q != "(NULL)" {
		t.Fatalf("empty: %s", q)
	}
}
