#!/usr/bin/env bash
# Compute data plane benchmarks on one host (root; QEMU under TCG without
# /dev/kvm). Prints Go benchmark lines; figures go to
# docs/benchmarks-compute-dataplane.md with the load average of the run.
#   BenchmarkBoot            bare qemu-system-x86_64 vs the qemu driver, interleaved
#   BenchmarkNetworkPlumbing bridge + qdhcp namespace + dnsmasq, tap, hosts update
# Usage: bench/compute-dataplane/run.sh [boot-iterations] [plumbing-iterations]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
make -s test-image
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run '^$' -bench 'Boot' -benchtime "${1:-5}x" -v ./internal/driver/qemu/ | grep -E '^Benchmark|run [0-9]'
go test -run '^$' -bench 'Plumbing' -benchtime "${2:-20}x" ./internal/driver/dnsmasq/ | grep -E '^Benchmark'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
