#!/usr/bin/env bash
# Installs what Gureum and its tests need on Debian 12, idempotently.
# Usage: scripts/deps.sh [run|test]   (test adds the test-only tools)
set -euo pipefail
mode=${1:-run}

# Packages the running cloud uses: QEMU for instances, dnsmasq for DHCP,
# iproute2/nftables for networks, qemu-utils for image inspection and
# copy-on-write disks, genisoimage for config drives.
pkgs=(qemu-system-x86 qemu-utils dnsmasq-base iproute2 nftables genisoimage ca-certificates)
if [ "$mode" = test ]; then
    # PostgreSQL for the store tests, the openstack CLI for end-to-end
    # scripts, ssh to reach test guests, the pieces of the tiny test image.
    pkgs+=(postgresql python3-openstackclient curl openssh-client busybox-static dropbear-bin linux-image-cloud-amd64 cpio xz-utils)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing ${missing[*]}; run as root (sudo) to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
    echo "deps: Go is required (https://go.dev/dl); it is not in Debian 12's packages at the needed version" >&2
    exit 1
fi
