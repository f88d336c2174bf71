#!/bin/bash
# End-to-end test of the image service (glance) with Debian's openstack
# CLI (python3-openstackclient) and qemu-img (qemu-utils) against a real
# `gureum server`.
#
#   e2e/image.sh path/to/gureum
#
# Starts the server on a free loopback port with a temporary data
# directory, drives it with `openstack`, and always stops it and removes
# the directory. Exits non-zero when any check fails.
set -euo pipefail

source "$(dirname "$0")/lib.bash"
command -v qemu-img >/dev/null || { echo "qemu-img not installed (apt-get install qemu-utils)" >&2; exit 1; }
e2e_start "${1:-}"

IMG="e2e-img-$S"
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 64M
# Some data in the image so the download check means something.
printf 'gureum e2e %s' "$S" | dd of="$WORK/disk.qcow2" bs=1 seek=$((1 << 20)) conv=notrunc status=none

check "image create --file qcow2" os image create -f value -c id --file "$WORK/disk.qcow2" --disk-format qcow2 --container-format bare --property os_distro=e2e-$S "$IMG"
ID=$LAST
check "image is active" os image show -f value -c status "$IMG"
check "  status active" contains active
check "image show virtual_size" os image show -f json "$IMG"
check "  virtual size from inspection" contains '"virtual_size": 67108864'
check "  sha512 hash" contains '"os_hash_algo": "sha512"'
check "image list --property" os image list -f value -c Name --property os_distro=e2e-$S
check "  listed by property" contains "$IMG"
check "image list --property (no match)" bash -c "[ -z \"\$(openstack image list -f value -c Name --property os_distro=none-$S)\" ]"
check "image set --property" os image set --property hw_disk_bus=virtio --property os_version=1 "$IMG"
check "image show properties" os image show -f json -c properties "$IMG"
check "  property set" contains '"hw_disk_bus": "virtio"'
check "image set --name --tag" os image set --tag e2e --min-disk 1 "$IMG"
check "image list --tag" os image list -f value -c Name --tag e2e
check "  listed by tag" contains "$IMG"
check "image save" os image save --file "$WORK/saved.qcow2" "$IMG"
check "  saved data identical" cmp "$WORK/disk.qcow2" "$WORK/saved.qcow2"
check "image data file in store" test -f "$WORK/data/images/$ID"

# Sharing with another project: add it as a member, accept as that project.
check "project create" os project create -f value -c id "e2e-p2-$S"
P2=$LAST
check "user create" os user create -f value -c id --password "pw-$S-secret" --project "$P2" "e2e-u2-$S"
check "role add member" os role add --user "e2e-u2-$S" --project "$P2" member
U2=(env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_IDENTITY_API_VERSION=3
	OS_USERNAME="e2e-u2-$S" OS_PASSWORD="pw-$S-secret" OS_USER_DOMAIN_ID=default OS_PROJECT_ID="$P2")
expect_fail "other project cannot see the image" "${U2[@]}" openstack image show "$ID"
check "image add project" os image add project "$IMG" "$P2"
check "  member pending" contains pending
check "member image not listed before accept" bash -c "! ${U2[*]} openstack image list -f value -c ID | grep -q $ID"
check "image set --accept (as member)" "${U2[@]}" openstack image set --accept "$ID"
check "member lists it after accept" "${U2[@]}" openstack image list -f value -c ID
check "  listed" contains "$ID"
check "member downloads it" "${U2[@]}" openstack image save --file "$WORK/member.qcow2" "$ID"
check "  member data identical" cmp "$WORK/disk.qcow2" "$WORK/member.qcow2"
expect_fail "member cannot delete" "${U2[@]}" openstack image delete "$ID"
expect_fail "member cannot publicize" "${U2[@]}" openstack image set --public "$ID"
# </dev/null: without --file the CLI would upload whatever stdin holds.
expect_fail "owner (non-admin) cannot publicize" "${U2[@]}" bash -c "openstack image create --public --disk-format raw 'e2e-pub-$S' </dev/null"

# A crafted qcow2 whose backing file is /etc/passwd is refused, and leaves
# no data behind.
qemu-img create -q -f qcow2 -F raw -b /etc/passwd "$WORK/evil.qcow2" 1M
check "qcow2 with backing file /etc/passwd rejected" bash -c "! openstack image create --file '$WORK/evil.qcow2' --disk-format qcow2 --container-format bare 'e2e-evil-$S' >'$WORK/evil.out' 2>&1"
check "  the CLI shows why" grep -q "backing file" "$WORK/evil.out"
check "  rejected image never active" bash -c "! openstack image list -f value -c Name -c Status | grep -q 'e2e-evil-$S active'"
check "  no temporary files left" bash -c "[ -z \"\$(ls -A '$WORK/data/images/.tmp')\" ]"
# Declared raw but really qcow2: refused too.
check "qcow2 data declared raw rejected" bash -c "! openstack image create --file '$WORK/disk.qcow2' --disk-format raw --container-format bare 'e2e-mismatch-$S' >'$WORK/mismatch.out' 2>&1"
check "  the CLI shows why" grep -q "disk_format is raw" "$WORK/mismatch.out"
for n in "e2e-evil-$S" "e2e-mismatch-$S"; do openstack image delete "$n" >/dev/null 2>&1 || true; done

# Delete removes the record and the data.
check "image delete" os image delete "$IMG"
check "image gone" bash -c "! openstack image show '$ID' >/dev/null 2>&1"
check "image data removed" test ! -e "$WORK/data/images/$ID"

# glanceclient (python3-glanceclient) discovers the version at /versions,
# reads the schemas and drives the import workflow.
if command -v glance >/dev/null; then
	PW=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["clouds"]["gureum"]["auth"]["password"])' "$WORK/data/clouds.yaml")
	G=(env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_USERNAME=admin OS_PASSWORD="$PW"
		OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default glance)
	TOKEN=$(openstack token issue -f value -c id)
	GID=$(curl -fsS -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
		-d "{\"name\":\"e2e-glance-$S\",\"disk_format\":\"qcow2\",\"container_format\":\"bare\"}" "$URL/image/v2/images" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	check "glance image-stage" "${G[@]}" image-stage --file "$WORK/disk.qcow2" "$GID"
	check "glance image-import glance-direct" "${G[@]}" image-import --import-method glance-direct "$GID"
	check "  imported image active" contains active
	check "glance task-list" "${G[@]}" task-list
	check "  import task succeeded" contains success
	check "glance image-list --property-filter" "${G[@]}" image-list --property-filter os_distro=e2e-$S
	check "glance stores-info" "${G[@]}" stores-info
	check "  file store" contains file
	check "glance image-delete" "${G[@]}" image-delete "$GID"
fi

check "no password in server log" bash -c "! grep -q 'pw-$S-secret' '$WORK/server.log'"

e2e_finish image
