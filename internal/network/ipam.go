package network

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
)

// IPAM: addresses are taken from a subnet's allocation pools, lowest free
// first; the store's primary key on (subnet, address) makes each address
// go to one port only, whatever the concurrency. Network and broadcast
// addresses never enter a pool; the gateway is excluded from default pools
// and refused inside given ones.

func badInput(f string, a ...any) *errs.Error {
	return errs.BadRequest("Invalid input for operation: "+f, a...).WithType("InvalidInput")
}

// parseCIDR parses a subnet CIDR, refusing host bits like Neutron.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, badInput("'%s' is not a valid IP subnet.", s)
	}
	if p.Masked() != p {
		return p, badInput("'%s' isn't a recognized IP subnet cidr, '%s' is recommended.", s, p.Masked())
	}
	return p, nil
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return a, badInput("'%s' is not a valid IP address.", s)
	}
	return a.Unmap(), nil
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// usable reports whether a may be given to a port on p (not the network
// address, nor IPv4 broadcast).
func usable(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) {
		return false
	}
	if p.Addr().Is4() && p.Bits() >= 31 {
		return true
	}
	if a == p.Addr() {
		return false
	}
	return !(a.Is4() && a == lastAddr(p))
}

// defaultPools is Neutron's generate_pools: the usable range minus the
// gateway.
func defaultPools(p netip.Prefix, gw *netip.Addr) []Pool {
	first, last := p.Addr(), lastAddr(p)
	if first == last {
		return []Pool{{first.String(), first.String()}}
	}
	first = first.Next()
	if p.Addr().Is4() {
		last = last.Prev()
	}
	if last.Less(first) {
		return []Pool{}
	}
	if gw == nil || gw.Less(first) || last.Less(*gw) {
		return []Pool{{first.String(), last.String()}}
	}
	var out []Pool
	if first.Less(*gw) {
		out = append(out, Pool{first.String(), gw.Prev().String()})
	}
	if gw.Less(last) {
		out = append(out, Pool{gw.Next().String(), last.String()})
	}
	return out
}

type addrRange struct{ start, end netip.Addr }

// checkPools validates pools against the CIDR, each other and the gateway.
func checkPools(p netip.Prefix, pools []Pool, gw *netip.Addr) ([]addrRange, error) {
	var rs []addrRange
	for _, pl := range pools {
		s, err := parseIP(pl.Start)
		if err != nil {
			return nil, err
		}
		e, err := parseIP(pl.End)
		if err != nil {
			return nil, err
		}
		if e.Less(s) || s.BitLen() != p.Addr().BitLen() {
			return nil, badInput("The allocation pool %s-%s is not valid.", pl.Start, pl.End).WithType("InvalidAllocationPool")
		}
		if !usable(p, s) || !usable(p, e) {
			return nil, badInput("The allocation pool %s-%s spans beyond the subnet cidr %s.", pl.Start, pl.End, p).WithType("OutOfBoundsAllocationPool")
		}
		for _, o := range rs {
			if !(e.Less(o.start) || o.end.Less(s)) {
				return nil, badInput("Found overlapping allocation pools: %s-%s and %s-%s.", pl.Start, pl.End, o.start, o.end).WithType("OverlappingAllocationPools")
			}
		}
		if gw != nil && !gw.Less(s) && !e.Less(*gw) {
			return nil, errs.Conflict("Gateway ip %s conflicts with allocation pool %s-%s.", gw, pl.Start, pl.End).WithType("GatewayConflictWithAllocationPools")
		}
		rs = append(rs, addrRange{s, e})
	}
	return rs, nil
}

func poolRanges(sn *Subnet) []addrRange {
	var rs []addrRange
	for _, pl := range sn.AllocationPools {
		s, err1 := netip.ParseAddr(pl.Start)
		e, err2 := netip.ParseAddr(pl.End)
		if err1 == nil && err2 == nil {
			rs = append(rs, addrRange{s, e})
		}
	}
	return rs
}

// poolSize counts the addresses of a subnet's pools (saturating).
func poolSize(sn *Subnet) uint64 {
	var n uint64
	for _, r := range poolRanges(sn) {
		n += rangeSize(r)
	}
	return n
}

func rangeSize(r addrRange) uint64 {
	s, e := r.start.As16(), r.end.As16()
	// Differences beyond 64 bits saturate.
	for i := 0; i < 8; i++ {
		if s[i] != e[i] {
			return 1 << 63
		}
	}
	var a, b uint64
	for i := 8; i < 16; i++ {
		a = a<<8 | uint64(s[i])
		b = b<<8 | uint64(e[i])
	}
	return b - a + 1
}

// isSLAAC reports subnets whose ports compute their own address.
func isSLAAC(sn *Subnet) bool {
	return sn.IPVersion == 6 && sn.IPv6AddressMode != nil && (*sn.IPv6AddressMode == "slaac" || *sn.IPv6AddressMode == "dhcpv6-stateless")
}

// EUI64 returns the SLAAC address of mac on a /64 prefix.
func EUI64(p netip.Prefix, mac string) (netip.Addr, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}, badInput("'%s' is not a valid MAC address.", mac)
	}
	b := p.Addr().As16()
	b[8] = hw[0] ^ 0x02
	b[9], b[10], b[11], b[12] = hw[1], hw[2], 0xff, 0xfe
	b[13], b[14], b[15] = hw[3], hw[4], hw[5]
	return netip.AddrFrom16(b), nil
}

// GenerateMAC returns a random MAC with OpenStack's fa:16:3e prefix.
func GenerateMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}

func validMAC(s string) bool {
	hw, err := net.ParseMAC(s)
	return err == nil && len(hw) == 6 && hw[0]&1 == 0
}

// IPKey is an order-preserving text form of an address (the hex of its
// 16-byte form), for the store's index.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	b := a.As16()
	return fmt.Sprintf("%x", b[:])
}

// allocateAny gives port an address from the subnet's pools: first the
// address after the highest one allocated in a pool (an index lookup, so
// creates stay cheap on big subnets), and when every pool's tail is used,
// the lowest free address (released ones are reused then, as Neutron
// avoids handing a just-released address to the next port).
func allocateAny(ctx context.Context, o Ops, sn *Subnet, portID string) (string, bool, error) {
	try := func(a netip.Addr) (bool, error) {
		return o.AllocateIP(ctx, IPAllocation{SubnetID: sn.ID, IPAddress: a.String(), PortID: portID, NetworkID: sn.NetworkID})
	}
	for _, r := range poolRanges(sn) {
		// A racing transaction may take the candidate first; look again.
		for attempt := 0; attempt < 8; attempt++ {
			hi, err := o.HighestAllocated(ctx, sn.ID, r.start.String(), r.end.String())
			if err != nil {
				return "", false, err
			}
			cand := r.start
			if hi != "" {
				h, err := netip.ParseAddr(hi)
				if err != nil {
					break
				}
				cand = h.Next()
			}
			if !cand.IsValid() || r.end.Less(cand) {
				break
			}
			ok, err := try(cand)
			if err != nil || ok {
				return cand.String(), ok, err
			}
		}
	}
	allocs, err := o.SubnetAllocations(ctx, sn.ID)
	if err != nil {
		return "", false, err
	}
	taken := make(map[netip.Addr]bool, len(allocs))
	for _, a := range allocs {
		if x, err := netip.ParseAddr(a.IPAddress); err == nil {
			taken[x] = true
		}
	}
	for _, r := range poolRanges(sn) {
		for a := r.start; a.IsValid() && !r.end.Less(a); a = a.Next() {
			if taken[a] {
				continue
			}
			ok, err := try(a)
			if err != nil {
				return "", false, err
			}
			if ok {
				return a.String(), true, nil
			}
			// Taken by a racing transaction that committed first: go on.
			taken[a] = true
		}
	}
	return "", false, nil
}

// allocateExact gives port the requested address.
func allocateExact(ctx context.Context, o Ops, sn *Subnet, ip netip.Addr, portID string, mayUseGateway bool) error {
	p, err := parseCIDR(sn.CIDR)
	if err != nil {
		return err
	}
	if !usable(p, ip) {
		return badInput("IP address %s is not a valid IP for the specified subnet.", ip).WithType("InvalidIpForSubnet")
	}
	if !mayUseGateway && sn.GatewayIP != nil && *sn.GatewayIP == ip.String() {
		return errs.Conflict("IP address %s already allocated in subnet %s", ip, sn.ID).WithType("IpAddressAlreadyAllocated")
	}
	ok, err := o.AllocateIP(ctx, IPAllocation{SubnetID: sn.ID, IPAddress: ip.String(), PortID: portID, NetworkID: sn.NetworkID})
	if err != nil {
		return err
	}
	if !ok {
		return errs.Conflict("IP address %s already allocated in subnet %s", ip, sn.ID).WithType("IpAddressAlreadyAllocated")
	}
	return nil
}

func exhausted(networkID string) *errs.Error {
	return errs.Conflict("No more IP addresses available on network %s.", networkID).WithType("IpAddressGenerationFailure")
}

// overlaps reports whether two prefixes share an address.
func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

func isIPv6(s string) bool { return strings.Contains(s, ":") }
