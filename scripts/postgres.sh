#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster and makes a role for the tests; prints
# the DSN to export as GUREUM_TEST_POSTGRES.
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    pg_ctlcluster "$ver" main start >&2
fi
for i in $(seq 1 50); do
    su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.2
done
su postgres -c "psql -qAt" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gureum_test') THEN
    CREATE ROLE gureum_test LOGIN CREATEDB PASSWORD 'gureum_test';
  END IF;
END $$;
SQL
port=$(su postgres -c "psql -qAtc 'show port'")
echo "postgres://gureum_test:gureum_test@127.0.0.1:${port}/postgres?sslmode=disable"
