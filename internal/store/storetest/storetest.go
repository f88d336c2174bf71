// Package storetest opens throwaway databases for tests: SQLite always, and
// PostgreSQL when GUREUM_TEST_POSTGRES names a server (a DSN whose user may
// create databases). CI sets it; elsewhere the PostgreSQL half is skipped
// with a message saying so.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/platform/ids"
	"github.com/gureum/gureum/internal/store"
)

// EnvPostgres names the environment variable with the PostgreSQL DSN.
const EnvPostgres = "GUREUM_TEST_POSTGRES"

// Backends runs fn once per available engine, each with a fresh database.
func Backends(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN creates an empty database and returns its DSN, dropped at the
// end of the test. It skips the test when no server is configured.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvPostgres + " (for example postgres://postgres@127.0.0.1/postgres?sslmode=disable); CI does")
	}
	name := "gureum_test_" + ids.Random(6)
	a, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a migrated PostgreSQL database (see PostgresDSN).
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	if !strings.HasPrefix(dsn, "postgres") {
		t.Fatal(fmt.Errorf("bad dsn"))
	}
	db, err := store.Open(context.Background(), dsn, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
