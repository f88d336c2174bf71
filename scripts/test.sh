#!/usr/bin/env bash
# The whole test suite: installs what it needs, starts PostgreSQL, runs the
# Go tests (unit, API through gophercloud, data-plane tests as root) on
# SQLite and PostgreSQL, then the end-to-end scripts with the openstack CLI
# against the built binary.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh test
if [ "$(id -u)" = 0 ]; then
    GUREUM_TEST_POSTGRES=$(scripts/postgres.sh) || { echo "test: could not start PostgreSQL" >&2; exit 1; }
    export GUREUM_TEST_POSTGRES
else
    echo "test: not root: PostgreSQL and data-plane tests will skip" >&2
fi

if grep -q '^test-image:' Makefile && [ "$(id -u)" = 0 ]; then
    make -s test-image || { echo "test: make test-image failed" >&2; exit 1; }
fi

passed=0; failed=0
log=$(mktemp)
go build -o build/gureum ./cmd/gureum || exit 1
go vet ./... || failed=$((failed + 1))
go test -count=1 -timeout 25m ./... 2>&1 | tee "$log"
gostatus=${PIPESTATUS[0]}
# Packages: "ok  <pkg>" passed, "FAIL<tab><pkg>" failed.
passed=$((passed + $(grep -c $'^ok[ \t]' "$log")))
pkgfail=$(grep -c $'^FAIL\t' "$log")
if [ "$gostatus" != 0 ] && [ "$pkgfail" = 0 ]; then pkgfail=1; fi
failed=$((failed + pkgfail))

for s in e2e/*.sh; do
    [ -e "$s" ] || continue
    echo "=== e2e: $s"
    if bash "$s" "$root/build/gureum"; then
        passed=$((passed + 1))
    else
        echo "--- FAIL: $s"
        failed=$((failed + 1))
    fi
done
rm -f "$log"
echo "test: $passed passed, $failed failed"
[ "$failed" = 0 ]
