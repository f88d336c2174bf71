// Package store keeps Gureum's state in SQLite (the default, a file in the
// data directory) or PostgreSQL (chosen by a postgres:// DSN), applies the
// numbered migrations at start, and implements the services' store
// interfaces. SQL is written once, with ? placeholders, in the subset both
// engines share.
//
// Drivers: modernc.org/sqlite (pure Go: no cgo toolchain needed for a
// static binary) and jackc/pgx (the maintained PostgreSQL driver, used
// through database/sql so both engines share one code path).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Dialect names the SQL engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the shared database handle.
type DB struct {
	sql     *sql.DB
	dialect Dialect
}

// Open opens the database named by dsn: "" means dataDir/gureum.db,
// "sqlite://PATH" or a plain path means SQLite, "postgres://…" or
// "postgresql://…" means PostgreSQL. Migrations are applied.
func Open(ctx context.Context, dsn, dataDir string) (*DB, error) {
	db, err := open(dsn, dataDir)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.sql.Close()
		return nil, err
	}
	return db, nil
}

func open(dsn, dataDir string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		s.SetMaxOpenConns(32)
		s.SetMaxIdleConns(16)
		return &DB{sql: s, dialect: Postgres}, nil
	default:
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			path = filepath.Join(dataDir, "gureum.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		// WAL lets readers run beside the one writer; IMMEDIATE transactions
		// take the write lock up front so two writers queue on busy_timeout
		// instead of failing on a lock upgrade.
		q := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		s, err := sql.Open("sqlite", "file:"+path+"?"+q)
		if err != nil {
			return nil, err
		}
		s.SetMaxOpenConns(8)
		s.SetMaxIdleConns(8)
		// Each connection holds its own page cache and statement cache
		// (megabytes once warm): connections left idle by a burst are
		// closed, so an idle server returns to its idle footprint.
		s.SetConnMaxIdleTime(sqliteIdleTime)
		return &DB{sql: s, dialect: SQLite}, nil
	}
}

// sqliteIdleTime is how long a SQLite connection may sit unused; reopening
// one costs well under a millisecond.
const sqliteIdleTime = 20 * time.Second

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// SQL returns the underlying handle (migrations, tests).
func (db *DB) SQL() *sql.DB { return db.sql }

// Rebind rewrites ? placeholders for the engine.
func (db *DB) Rebind(q string) string { return rebind(db.dialect, q) }

// Dialect names the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Querier is what both *DB and *Tx offer.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	Dialect() Dialect
}

func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.Rebind(q), args...)
}

func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.Rebind(q), args...)
}

func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.Rebind(q), args...)
}

// Tx is a transaction.
type Tx struct {
	tx *sql.Tx
	d  Dialect
}

func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(t.d, q), args...)
}

func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(t.d, q), args...)
}

func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(t.d, q), args...)
}

func (t *Tx) Dialect() Dialect { return t.d }

// InTx runs fn in a transaction, committing when it returns nil. Conflicts
// the engine reports as retryable (serialization failures, deadlocks,
// SQLite busy) are retried a few times.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = db.tryTx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	tx := &Tx{tx: stx, d: db.dialect}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return stx.Commit()
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

// IsUnique reports a unique-constraint violation.
func IsUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsForeignKey reports a foreign-key violation.
func IsForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// In returns "(?,?,?)" and the args for an IN clause.
func In[T any](vals []T) (string, []any) {
	if len(vals) == 0 {
		return "(NULL)", nil
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",") + ")", args
}

// Micros converts a time to the integer microseconds stored in the database.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UTC().UnixMicro()
}

// FromMicros converts stored microseconds to a UTC time (zero for 0).
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
