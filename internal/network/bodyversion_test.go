package network

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestBodyVersionPinsShapes fails when a resource's JSON attributes change:
// bump BodyVersion (stored bodies of older versions are then decoded, not
// served as they are) and update the list below.
func TestBodyVersionPinsShapes(t *testing.T) {
	const want = `floatingips:created_at(network.Time),description(string),dns_domain(string),dns_name(string),fixed_ip_address(*string),floating_ip_address(string),floating_network_id(string),id(string),name(string),port_forwardings([]interface {}),port_id(*string),project_id(string),revision_number(int64),router_id(*string),status(string),tags([]string),updated_at(network.Time)
networks:admin_state_up(bool),availability_zone_hints([]string),availability_zones([]string),created_at(network.Time),description(string),dns_domain(string),id(string),is_default(bool),mtu(int),name(string),port_security_enabled(bool),project_id(string),provider:network_type(string),provider:physical_network(*string),provider:segmentation_id(*int),revision_number(int64),router:external(bool),shared(bool),status(string),subnets([]string),tags([]string),updated_at(network.Time)
ports:admin_state_up(bool),allowed_address_pairs([]network.AddressPair),allowed_address_pairs.ip_address(string),allowed_address_pairs.mac_address,omitempty(string),binding:host_id(string),binding:profile(map[string]interface {}),binding:vif_details(map[string]interface {}),binding:vif_type(string),binding:vnic_type(string),created_at(network.Time),description(string),device_id(string),device_owner(string),dns_assignment([]map[string]interface {}),dns_name(string),extra_dhcp_opts([]network.ExtraDHCPOpt),extra_dhcp_opts.ip_version,omitempty(int),extra_dhcp_opts.opt_name(string),extra_dhcp_opts.opt_value(string),fixed_ips([]network.FixedIP),fixed_ips.ip_address(string),fixed_ips.subnet_id(string),id(string),ip_allocation,omitempty(string),mac_address(string),name(string),network_id(string),port_security_enabled(bool),project_id(string),revision_number(int64),security_groups([]string),status(string),tags([]string),updated_at(network.Time)
routers:admin_state_up(bool),availability_zone_hints([]string),availability_zones([]string),created_at(network.Time),description(string),distributed(bool),external_gateway_info(*network.GatewayInfo),external_gateway_info.enable_snat(bool),external_gateway_info.external_fixed_ips([]network.FixedIP),external_gateway_info.external_fixed_ips.ip_address(string),external_gateway_info.external_fixed_ips.subnet_id(string),external_gateway_info.network_id(string),flavor_id(*string),ha(bool),id(string),name(string),project_id(string),revision_number(int64),routes([]network.Route),routes.destination(string),routes.nexthop(string),status(string),tags([]string),updated_at(network.Time)
security_group_rules:belongs_to_default_sg(bool),created_at(network.Time),description(string),direction(string),ethertype(string),id(string),name(string),normalized_cidr(*string),port_range_max(*int),port_range_min(*int),project_id(string),protocol(*string),remote_address_group_id(*string),remote_group_id(*string),remote_ip_prefix(*string),revision_number(int64),security_group_id(string),tags([]string),updated_at(network.Time)
security_groups:created_at(network.Time),description(string),id(string),name(string),project_id(string),revision_number(int64),security_group_rules([]network.SGRule),security_group_rules.belongs_to_default_sg(bool),security_group_rules.created_at(network.Time),security_group_rules.description(string),security_group_rules.direction(string),security_group_rules.ethertype(string),security_group_rules.id(string),security_group_rules.name(string),security_group_rules.normalized_cidr(*string),security_group_rules.port_range_max(*int),security_group_rules.port_range_min(*int),security_group_rules.project_id(string),security_group_rules.protocol(*string),security_group_rules.remote_address_group_id(*string),security_group_rules.remote_group_id(*string),security_group_rules.remote_ip_prefix(*string),security_group_rules.revision_number(int64),security_group_rules.security_group_id(string),security_group_rules.tags([]string),security_group_rules.updated_at(network.Time),shared(bool),stateful(bool),tags([]string),updated_at(network.Time)
subnetpools:address_scope_id(*string),created_at(network.Time),default_prefixlen(int),default_quota(*int),description(string),id(string),ip_version(int),is_default(bool),max_prefixlen(int),min_prefixlen(int),name(string),prefixes([]string),project_id(string),revision_number(int64),shared(bool),tags([]string),updated_at(network.Time)
subnets:allocation_pools([]network.Pool),allocation_pools.end(string),allocation_pools.start(string),cidr(string),created_at(network.Time),description(string),dns_nameservers([]string),dns_publish_fixed_ip(bool),enable_dhcp(bool),gateway_ip(*string),host_routes([]network.HostRoute),host_routes.destination(string),host_routes.nexthop(string),id(string),ip_version(int),ipv6_address_mode(*string),ipv6_ra_mode(*string),name(string),network_id(string),project_id(string),revision_number(int64),segment_id(*string),service_types([]string),subnetpool_id(*string),tags([]string),updated_at(network.Time)`
	var lines []string
	for _, k := range Kinds {
		keys := jsonFields(reflect.TypeOf(newOf(k)).Elem(), "")
		sort.Strings(keys)
		lines = append(lines, string(k)+":"+strings.Join(keys, ","))
	}
	sort.Strings(lines)
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("resource JSON shapes changed (BodyVersion %d): bump BodyVersion and set want to:\n%s", BodyVersion, got)
	}
}

// jsonFields lists a type's JSON attribute names with their options,
// nested types' as parent.child.
func jsonFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(Time{}) {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			out = append(out, jsonFields(f.Type, prefix)...)
			continue
		}
		name := prefix + tag + "(" + f.Type.String() + ")"
		out = append(out, name)
		out = append(out, jsonFields(f.Type, prefix+strings.Split(tag, ",")[0]+".")...)
	}
	return out
}
