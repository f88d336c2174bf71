#!/bin/bash
# End-to-end test of the compute service (Nova API) with Debian's openstack
# CLI against a real `gureum server`:
#
#   e2e/compute.sh path/to/gureum
#
# As root with QEMU, dnsmasq and the tiny test image (`make test-image`) it
# boots real guests; otherwise it runs the same API checks on the fake
# hypervisor and says so. The server is always stopped and its directory
# removed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/e2e/lib.bash"

DRIVER=fake
IMG="$ROOT/build/images"
if [ "$(id -u)" = 0 ] && command -v qemu-system-x86_64 >/dev/null && command -v dnsmasq >/dev/null && [ -f "$IMG/tiny.qcow2" ] && [ -f "$IMG/tiny.vmlinuz" ]; then
	DRIVER=qemu
else
	echo "note: not root, or QEMU/dnsmasq/the tiny image missing: API checks on the fake hypervisor only"
fi

# Delete what is left so no guest outlives the run.
e2e_before_stop() {
	for s in $(openstack server list --all-projects -f value -c ID 2>/dev/null); do openstack server delete --wait "$s" >/dev/null 2>&1 || true; done
}
e2e_start "${1:-}" "compute:
  driver: $DRIVER
  shutdown_timeout: 5s
  node_name: e2e-$$" /compute/

# Flavors, availability zones, hypervisors, services, limits.
check "flavor list" val flavor list -c Name
check "default flavors" contains m1.tiny
check "flavor create" val flavor create -c id --ram 128 --vcpus 1 --disk 1 "e2e.small-$S"
check "availability zone list" val availability zone list -c "Zone Name"
check "zone nova" contains nova
check "hypervisor list" val hypervisor list -c "Hypervisor Hostname"
check "our node" contains "e2e-$$"
check "compute service list" val compute service list -c Binary -c State
check "nova-compute up" contains "nova-compute up"
check "limits show" val limits show --absolute -c Name -c Value
check "instances limit" contains maxTotalInstances

# Images: the tiny guest (direct kernel boot, like glance AMI images) or
# a small raw stand-in for the fake hypervisor.
if [ "$DRIVER" = qemu ]; then
	check "kernel image" val image create -c id --public --disk-format aki --container-format aki --file "$IMG/tiny.vmlinuz" "tiny-kernel-$S"
	K=$LAST
	check "ramdisk image" val image create -c id --public --disk-format ari --container-format ari --file "$IMG/tiny.initrd" "tiny-ramdisk-$S"
	R=$LAST
	check "tiny image" val image create -c id --public --disk-format qcow2 --container-format bare --file "$IMG/tiny.qcow2" \
		--property kernel_id="$K" --property ramdisk_id="$R" --property os_command_line="$(cat "$IMG/tiny.cmdline")" "tiny-$S"
	IMAGE=$LAST
else
	head -c 65536 /dev/zero >"$WORK/blank.raw"
	check "image" val image create -c id --public --disk-format raw --container-format bare --file "$WORK/blank.raw" "blank-$S"
	IMAGE=$LAST
fi

# A VXLAN tenant network.
check "network create" val network create -c id "e2e-net-$S"
NET=$LAST
check "subnet create" val subnet create -c id --network "$NET" --subnet-range 10.77.0.0/24 --dns-nameserver 192.0.2.53 "e2e-sub-$S"

# Keypairs.
check "keypair create" openstack keypair create "e2e-key-$S"
printf '%s\n' "$LAST" >"$WORK/key"
chmod 600 "$WORK/key"
check "private key returned" contains "PRIVATE KEY"
check "keypair list" val keypair list -c Name
check "keypair listed" contains "e2e-key-$S"
expect_fail "duplicate keypair refused" openstack keypair create "e2e-key-$S"

# Servers.
check "server create --wait" val server create -c id --wait --image "$IMAGE" --flavor m1.tiny --network "$NET" --key-name "e2e-key-$S" "e2e-vm-$S"
VM=$(tail -n1 <<<"$LAST") # --wait prints its progress first
check "server show status" val server show -c status "$VM"
check "server ACTIVE" test "$LAST" = ACTIVE
check "server show addresses" val server show -c addresses "$VM"
check "address on the subnet" contains "10.77.0."
IP=$(grep -o '10\.77\.0\.[0-9]*' <<<"$LAST" | head -1 || true)
check "server list" val server list -c Name
check "server listed" contains "e2e-vm-$S"
expect_fail "unknown flavor refused" openstack server create --image "$IMAGE" --flavor no-such-flavor --network "$NET" "bad-$S"
expect_fail "unknown image refused" openstack server create --image 00000000-0000-4000-8000-000000000000 --flavor m1.tiny --network "$NET" "bad-$S"
if [ "$DRIVER" = qemu ]; then
	for _ in $(seq 1 120); do
		openstack console log show "$VM" 2>/dev/null | grep -q "gureum-guest: ssh ready" && break
		sleep 1
	done
	check "console log show" openstack console log show "$VM"
	check "console has the fixed IP and MTU 1450" contains "gureum-guest: ip=$IP/24 mtu=1450"
	check "ssh from the qdhcp namespace" ip netns exec "qdhcp-$NET" ssh -i "$WORK/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 "root@$IP" hostname
else
	check "console log show" openstack console log show "$VM"
	check "console has output" contains "login:"
fi

wait_status() {
	for _ in $(seq 1 120); do
		[ "$(openstack server show -f value -c status "$1")" = "$2" ] && return 0
		sleep 1
	done
	return 1
}
check "server stop" openstack server stop "$VM"
check "status SHUTOFF" wait_status "$VM" SHUTOFF
check "server start" openstack server start "$VM"
check "status ACTIVE after start" wait_status "$VM" ACTIVE
check "server reboot --wait" openstack server reboot --wait "$VM"
check "status ACTIVE after reboot" wait_status "$VM" ACTIVE
if [ "$DRIVER" = qemu ]; then
	check "server image create --wait" openstack server image create --wait --name "e2e-snap-$S" "$VM"
	check "snapshot status" val image show -c status "e2e-snap-$S"
	check "snapshot active" contains active
fi
check "server set --property" openstack server set --property role=web "$VM"
check "server show properties" val server show -c properties "$VM"
check "property set" contains web
check "server event list" val server event list "$VM" -c Action
check "create action recorded" contains create

# Ports in and out of the server (os-interface): hot-plugged into the
# running guest on QEMU.
check "second network" val network create -c id "e2e-net2-$S"
NET2=$LAST
check "second subnet" val subnet create -c id --network "$NET2" --subnet-range 10.78.0.0/24 "e2e-sub2-$S"
check "port create" val port create -c id --network "$NET2" --fixed-ip ip-address=10.78.0.40 "e2e-port-$S"
P2=$LAST
check "server add port" openstack server add port "$VM" "$P2"
check "server show addresses after add" val server show -c addresses "$VM"
check "the port's address" contains "10.78.0.40"
check "port bound to the server" val port show -c device_id "$P2"
check "port device is the server" test "$LAST" = "$VM"
if [ "$DRIVER" = qemu ]; then
	MAC=$(openstack port show -f value -c mac_address "$P2")
	guest_nics() { ip netns exec "qdhcp-$NET" ssh -i "$WORK/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 "root@$IP" 'cat /sys/class/net/*/address'; }
	guest_has() { for _ in $(seq 1 30); do guest_nics | grep -q "$1" && return 0; sleep 1; done; return 1; }
	check "the guest sees the new NIC" guest_has "$MAC"
fi
check "server remove port" openstack server remove port "$VM" "$P2"
check "server show addresses after remove" val server show -c addresses "$VM"
check "the port's address is gone" bash -c '! grep -q 10.78.0.40 <<<"$1"' _ "$LAST"
check "port unbound" val port show -c device_id "$P2"
check "port has no device" test -z "$LAST"
if [ "$DRIVER" = qemu ]; then
	check "the guest's NICs" guest_nics
	check "the guest lost the NIC" bash -c '! grep -q "$1" <<<"$2"' _ "$MAC" "$LAST"
fi
check "server add network" openstack server add network "$VM" "$NET2"
check "server show addresses after add network" val server show -c addresses "$VM"
check "an address on the second network" contains "10.78.0."
check "server event list" val server event list "$VM" -c Action
check "attach_interface recorded" contains attach_interface
check "detach_interface recorded" contains detach_interface

# Rescue: the server's image boots with its disk attached second.
check "server rescue" openstack server rescue --password "rescue-$S" "$VM"
check "status RESCUE" wait_status "$VM" RESCUE
if [ "$DRIVER" = qemu ]; then
	disks() { ip netns exec "qdhcp-$NET" ssh -i "$WORK/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 "root@$IP" 'ls /sys/block'; }
	has_disk() { for _ in $(seq 1 60); do disks 2>/dev/null | grep -q "$1" && return 0; sleep 1; done; return 1; }
	check "the rescue system sees the server's disk as vdb" has_disk vdb
fi
expect_fail "rescued server refuses stop" openstack server stop "$VM"
check "server unrescue" openstack server unrescue "$VM"
check "status ACTIVE after unrescue" wait_status "$VM" ACTIVE
check "server event list" val server event list "$VM" -c Action
check "rescue recorded" contains rescue

# Another project's member sees nothing of it; admins see all.
check "project create" openstack project create "e2e-p-$S"
check "user create" openstack user create --password "pw-$S" "e2e-u-$S"
check "role add" openstack role add --project "e2e-p-$S" --user "e2e-u-$S" member
# The other user logs in with plain OS_* variables (with OS_CLOUD the
# clouds.yaml scope would win over --os-project-name).
other() {
	env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_IDENTITY_API_VERSION=3 \
		OS_USERNAME="e2e-u-$S" OS_PASSWORD="pw-$S" OS_PROJECT_NAME="e2e-p-$S" \
		OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default openstack "$@"
}
check "other project's token" other token issue -f value -c project_id
check "other project lists no servers" other server list -f value -c ID
check "list is empty" test -z "$LAST"
expect_fail "other project cannot show it" other server show "$VM"
expect_fail "other project cannot delete it" other server delete "$VM"
expect_fail "other project cannot stop it" other server stop "$VM"
check "admin --all-projects" val server list --all-projects -c ID
check "admin sees it" contains "$VM"

check "server delete --wait" openstack server delete --wait "$VM"
expect_fail "deleted server gone" openstack server show "$VM"

e2e_finish "compute ($DRIVER)"
