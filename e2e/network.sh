#!/bin/bash
# End-to-end test of the networking service (Neutron API) with Debian's
# openstack CLI (python3-openstackclient) against a real `gureum server`.
#
#   e2e/network.sh path/to/gureum
#
# Starts the server on a free loopback port with a temporary data
# directory, drives it with `openstack`, and always stops it and removes
# the directory. Exits non-zero when any check fails.
set -euo pipefail

source "$(dirname "$0")/lib.bash"
e2e_start "${1:-}"


# Networks: a VXLAN tenant network on the default 1500 underlay has MTU 1450.
check "network create" val network create -c id "e2e-net-$S"
NET=$LAST
check "network show mtu" val network show -c mtu "$NET"
check "vxlan network mtu is 1450" test "$LAST" = 1450
check "network show type" val network show -c provider:network_type "$NET"
check "tenant network is vxlan" contains vxlan
check "network set" openstack network set --name "e2e-net2-$S" --description "e2e net" "$NET"
check "network list --name" val network list -c ID --name "e2e-net2-$S"
check "renamed network listed" contains "$NET"
check "network set --tag" openstack network set --tag blue "$NET"
check "network list --tags" val network list -c ID --tags blue
check "tagged network listed" contains "$NET"
expect_fail "unknown network refused" openstack network show "no-such-net-$S"

# Subnets.
check "subnet create" val subnet create -c id --network "$NET" --subnet-range 10.61.0.0/24 --dns-nameserver 192.0.2.53 "e2e-sub-$S"
SUB=$LAST
check "subnet show gateway" val subnet show -c gateway_ip "$SUB"
check "gateway is .1" test "$LAST" = 10.61.0.1
check "subnet list --network" val subnet list -c ID --network "$NET"
check "subnet listed" contains "$SUB"
check "subnet set" openstack subnet set --name "e2e-sub2-$S" --no-dns-nameservers --dns-nameserver 192.0.2.54 "$SUB"
check "subnet show dns" val subnet show -c dns_nameservers "$SUB"
check "dns updated" contains 192.0.2.54
expect_fail "invalid cidr refused" openstack subnet create --network "$NET" --subnet-range 10.62.0.0/33 "bad-$S"
expect_fail "gateway outside subnet refused" openstack subnet create --network "$NET" --subnet-range 10.63.0.0/24 --gateway 10.64.0.1 "bad2-$S"
check "ipv6 slaac subnet create" val subnet create -c id --network "$NET" --ip-version 6 --subnet-range fd00:61::/64 --ipv6-ra-mode slaac --ipv6-address-mode slaac "e2e-sub6-$S"
SUB6=$LAST

# Ports.
check "port create with fixed ip" val port create -c id --network "$NET" --fixed-ip "subnet=$SUB,ip-address=10.61.0.10" "e2e-port-$S"
PORT=$LAST
check "port show fixed ips" val port show -c fixed_ips "$PORT"
check "port has its address" contains 10.61.0.10
check "port has a slaac address" contains "fd00:61::"
expect_fail "address in use refused" openstack port create --network "$NET" --fixed-ip "subnet=$SUB,ip-address=10.61.0.10" "dup-$S"
check "port list --network" val port list -c ID --network "$NET"
check "port listed" contains "$PORT"
check "port list --fixed-ip" val port list -c ID --fixed-ip ip-address=10.61.0.10
check "port found by address" contains "$PORT"
check "port set" openstack port set --name "e2e-port2-$S" --description "e2e port" "$PORT"
check "port show name" val port show -c name "$PORT"
check "port renamed" test "$LAST" = "e2e-port2-$S"
expect_fail "network with ports cannot be deleted" openstack network delete "$NET"

# Security groups and rules.
check "security group create" val security group create -c id --description "e2e sg" "e2e-sg-$S"
SG=$LAST
check "security group list" val security group list -c ID
check "security group listed" contains "$SG"
check "security group set" openstack security group set --description changed "$SG"
check "security group show" val security group show -c description "$SG"
check "description changed" test "$LAST" = changed
check "rule create tcp 22" val security group rule create -c id --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 "$SG"
RULE=$LAST
check "rule show" val security group rule show -c port_range_min "$RULE"
check "rule port is 22" test "$LAST" = 22
check "rule list --protocol" val security group rule list -c ID --protocol tcp "$SG"
check "rule listed" contains "$RULE"
expect_fail "duplicate rule refused" openstack security group rule create --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 "$SG"
check "port set security group" openstack port set --security-group "$SG" "$PORT"
expect_fail "group in use cannot be deleted" openstack security group delete "$SG"
check "rule delete" openstack security group rule delete "$RULE"

# External network, router, floating IP.
check "external network create" val network create -c id --external --provider-network-type flat --provider-physical-network physnet1 "e2e-ext-$S"
EXT=$LAST
check "flat network mtu is 1500" bash -c "test \"\$(openstack network show -f value -c mtu $EXT)\" = 1500"
check "external subnet create" val subnet create -c id --network "$EXT" --subnet-range 203.0.113.0/24 --no-dhcp "e2e-extsub-$S"
check "network list --external" val network list -c ID --external
check "external network listed" contains "$EXT"
check "router create" val router create -c id "e2e-router-$S"
ROUTER=$LAST
check "router set gateway" openstack router set --external-gateway "$EXT" "$ROUTER"
check "router add subnet" openstack router add subnet "$ROUTER" "$SUB"
check "router show" val router show -c external_gateway_info "$ROUTER"
check "router has gateway" contains "$EXT"
check "router list" val router list -c ID
check "router listed" contains "$ROUTER"
check "router set name" openstack router set --name "e2e-router2-$S" "$ROUTER"
expect_fail "router with interfaces cannot be deleted" openstack router delete "$ROUTER"
check "floating ip create" val floating ip create -c id "$EXT"
FIP=$LAST
check "floating ip set port" openstack floating ip set --port "$PORT" "$FIP"
check "floating ip show" val floating ip show -c fixed_ip_address "$FIP"
check "floating ip mapped to the port" test "$LAST" = 10.61.0.10
check "floating ip list --port" val floating ip list -c ID --port "$PORT"
check "floating ip listed" contains "$FIP"
expect_fail "interface used by a floating ip cannot be removed" openstack router remove subnet "$ROUTER" "$SUB"
check "floating ip unset port" openstack floating ip unset --port "$FIP"
check "floating ip delete" openstack floating ip delete "$FIP"
check "router remove subnet" openstack router remove subnet "$ROUTER" "$SUB"
check "router unset gateway" openstack router unset --external-gateway "$ROUTER"
check "router delete" openstack router delete "$ROUTER"

# Another project's member sees neither our private network nor our ports.
check "project create" val project create -c id "e2e-proj-$S"
PROJ=$LAST
check "user create" openstack user create --password "pw-$S-secret" --project "$PROJ" "e2e-user-$S"
check "role add" openstack role add --user "e2e-user-$S" --project "$PROJ" member
USER_ENV=(env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_IDENTITY_API_VERSION=3
	OS_USERNAME="e2e-user-$S" OS_PASSWORD="pw-$S-secret" OS_USER_DOMAIN_NAME=Default OS_PROJECT_ID="$PROJ")
check "member network list" "${USER_ENV[@]}" openstack network list -f value -c ID
check "member sees the external network" contains "$EXT"
check "member does not see our network" bash -c "! grep -q '$NET' <<<'$LAST'"
expect_fail "member cannot show our port" "${USER_ENV[@]}" openstack port show "$PORT"
expect_fail "member cannot create a port on our network" "${USER_ENV[@]}" openstack port create --network "$NET" "intruder-$S"

# Deletes.
check "port delete" openstack port delete "$PORT"
check "security group delete" openstack security group delete "$SG"
check "subnet delete" openstack subnet delete "$SUB6"
check "network delete" openstack network delete "$NET"
check "external network delete" openstack network delete "$EXT"
check "network gone" bash -c "! openstack network show '$NET' >/dev/null 2>&1"
check "no password in server log" bash -c "! grep -q 'pw-$S-secret' '$WORK/server.log'"

e2e_finish network
