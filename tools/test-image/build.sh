#!/usr/bin/env bash
# Builds Gureum's tiny test guest from Debian packages only:
#   <out>/tiny.qcow2    bootable disk (FAT + syslinux + kernel + initramfs)
#   <out>/tiny.vmlinuz  the same kernel, for direct kernel boot (kernel_id)
#   <out>/tiny.initrd   the same initramfs, for direct kernel boot (ramdisk_id)
# See README.md for why both exist. Usage: build.sh [out-dir] (default build/images).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/images}
mkdir -p "$out"
out=$(cd "$out" && pwd)

pkgs=(linux-image-cloud-amd64 busybox-static dropbear-bin cpio xz-utils kmod syslinux syslinux-common mtools dosfstools qemu-utils)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "test-image: missing ${missing[*]}; run as root" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Newest installed cloud kernel.
kver=$(ls /lib/modules | grep -- '-cloud-amd64$' | sort -V | tail -1)
[ -n "$kver" ] || { echo "test-image: no -cloud-amd64 kernel in /lib/modules" >&2; exit 1; }
kernel=/boot/vmlinuz-$kver

# Rebuild only when an input changed.
stamp="$kver $(sha256sum "$here/init" "$here/udhcpc.script" "$0" /bin/busybox /usr/sbin/dropbear | sha256sum | cut -c1-16)"
if [ -f "$out/tiny.qcow2" ] && [ -f "$out/tiny.stamp" ] && [ "$(cat "$out/tiny.stamp")" = "$stamp" ]; then
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,etc,lib/modules,lib64,root,proc,sys,dev,tmp,mnt,var/run}

cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"

# dropbear and the shared libraries it links.
cp /usr/sbin/dropbear "$root/sbin/dropbear"
for lib in $(ldd /usr/sbin/dropbear | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf '/bin/sh\n' > "$root/etc/shells"

# ACPI power button (QMP system_powerdown): busybox acpid runs
# /etc/acpi/PWRF/00000080, which powers the guest off cleanly.
mkdir -p "$root/etc/acpi/PWRF"
printf '#!/bin/sh\necho "gureum-guest: power button, shutting down" > /dev/console\nsync\npoweroff -f\n' > "$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"

# virtio (NIC, disks), iso9660 (config drive), the ACPI button and evdev
# (for acpid) are modules in the cloud
# kernel; busybox insmod takes no .xz and resolves no dependencies, so the
# order below is dependency order (modinfo -F depends).
mods=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net virtio_blk cdrom isofs button evdev)
: > "$root/etc/modules.order"
for m in "${mods[@]}"; do
    f=$(modinfo -k "$kver" -n "$m" 2>/dev/null || true)
    if [ -z "$f" ] || [ "$f" = "(builtin)" ]; then continue; fi
    case "$f" in
        *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *.zst) zstd -dcq "$f" > "$root/lib/modules/$m.ko" ;;
        *) cp "$f" "$root/lib/modules/$m.ko" ;;
    esac
    echo "$m" >> "$root/etc/modules.order"
done

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd"
cp "$kernel" "$work/vmlinuz"

# Bootable disk: a FAT "superfloppy" (no partition table) with syslinux in
# its boot sector, built with mtools: no loop device or mount needed.
cmdline="console=ttyS0 panic=-1"
cat > "$work/syslinux.cfg" <<CFG
DEFAULT tiny
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL tiny
  KERNEL vmlinuz
  INITRD initrd
  APPEND $cmdline
CFG
size_kb=$(( ( $(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd") ) / 1024 + 4096 ))
mkfs.vfat -C -n TINY "$work/disk.raw" "$size_kb" >/dev/null
syslinux --install "$work/disk.raw"
mcopy -i "$work/disk.raw" "$work/vmlinuz" "$work/initrd" "$work/syslinux.cfg" ::/
qemu-img convert -q -f raw -O qcow2 "$work/disk.raw" "$out/tiny.qcow2.tmp"
mv "$out/tiny.qcow2.tmp" "$out/tiny.qcow2"
# Renames, not in-place copies: a test may be reading the old files.
for f in vmlinuz initrd; do
    cp "$work/$f" "$out/tiny.$f.tmp" && mv "$out/tiny.$f.tmp" "$out/tiny.$f"
done
echo "$cmdline" > "$out/tiny.cmdline"
echo "$stamp" > "$out/tiny.stamp"
echo "test-image: $out/tiny.qcow2 ($(du -h "$out/tiny.qcow2" | cut -f1)), kernel $kver"
