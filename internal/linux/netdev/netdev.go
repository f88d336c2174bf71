// Package netdev creates and deletes the network devices Gureum's data plane
// uses — bridges, tap devices, veth pairs, addresses — through netlink
// (github.com/vishvananda/netlink: the netlink library used by CNI plugins,
// Docker and Cilium, so we do not hand-roll rtnetlink messages). Calls are
// ensure-style: asking for what already exists is not an error, and they
// report whether they created something so a caller undoes only its own work.
package netdev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// MaxNameLen is the kernel's limit on interface names (IFNAMSIZ-1).
const MaxNameLen = 15

func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen || strings.ContainsAny(name, "/ \x00:") {
		return fmt.Errorf("netdev: invalid interface name %q", name)
	}
	return nil
}

// Exists reports whether a link called name exists in the host namespace.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// EnsureBridge creates a bridge with the given MTU (or fixes the MTU of an
// existing one) and sets it up.
func EnsureBridge(ctx context.Context, name string, mtu int) (created bool, err error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		if !isNotFound(err) {
			return false, err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return false, fmt.Errorf("netdev: add bridge %s: %w", name, err)
		}
		created = true
		if l, err = netlink.LinkByName(name); err != nil {
			return created, err
		}
	} else if l.Type() != "bridge" {
		return false, fmt.Errorf("netdev: %s exists and is a %s, not a bridge", name, l.Type())
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return created, fmt.Errorf("netdev: mtu %s: %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return created, fmt.Errorf("netdev: up %s: %w", name, err)
	}
	return created, nil
}

// EnsureTap creates a persistent tap device (QEMU opens it by name with
// script=no), attaches it to bridge (when not empty), sets the MTU and
// brings it up.
func EnsureTap(ctx context.Context, name, bridge string, mtu int) (created bool, err error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		if !isNotFound(err) {
			return false, err
		}
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE,
		}
		if err := netlink.LinkAdd(tap); err != nil && !errors.Is(err, unix.EEXIST) {
			return false, fmt.Errorf("netdev: add tap %s: %w", name, err)
		}
		created = true
		if l, err = netlink.LinkByName(name); err != nil {
			return created, err
		}
	} else if l.Type() != "tuntap" {
		return false, fmt.Errorf("netdev: %s exists and is a %s, not a tap", name, l.Type())
	}
	return created, attach(l, bridge, mtu)
}

// attach enslaves l to bridge (when given), sets its MTU and brings it up.
func attach(l netlink.Link, bridge string, mtu int) error {
	name := l.Attrs().Name
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("netdev: mtu %s: %w", name, err)
		}
	}
	if bridge != "" {
		br, err := netlink.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("netdev: bridge %s: %w", bridge, err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			if err := netlink.LinkSetMaster(l, br); err != nil {
				return fmt.Errorf("netdev: attach %s to %s: %w", name, bridge, err)
			}
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("netdev: up %s: %w", name, err)
	}
	return nil
}

// Veth describes a veth pair whose host end is attached to a bridge and
// whose peer lives in a named namespace (given by its bind-mount path).
type Veth struct {
	Host   string // host-side name, attached to Bridge
	Bridge string
	Peer   string // name inside the namespace
	NSPath string // e.g. /run/netns/qdhcp-<id>
	MTU    int
}

// EnsureVeth creates the pair (moving the peer into the namespace), attaches
// the host end to the bridge and brings both ends up.
func EnsureVeth(ctx context.Context, v Veth) (created bool, err error) {
	if err := checkName(v.Host); err != nil {
		return false, err
	}
	if err := checkName(v.Peer); err != nil {
		return false, err
	}
	ns, err := netns.GetFromPath(v.NSPath)
	if err != nil {
		return false, fmt.Errorf("netdev: namespace %s: %w", v.NSPath, err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return false, err
	}
	defer nh.Close()

	l, err := netlink.LinkByName(v.Host)
	if err != nil {
		if !isNotFound(err) {
			return false, err
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.Host, MTU: v.MTU},
			PeerName:      v.Peer,
			PeerNamespace: netlink.NsFd(ns),
			PeerMTU:       uint32(max(v.MTU, 0)),
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return false, fmt.Errorf("netdev: add veth %s/%s: %w", v.Host, v.Peer, err)
		}
		created = true
		if l, err = netlink.LinkByName(v.Host); err != nil {
			return created, err
		}
	} else if l.Type() != "veth" {
		return false, fmt.Errorf("netdev: %s exists and is a %s, not a veth", v.Host, l.Type())
	}
	if err := attach(l, v.Bridge, v.MTU); err != nil {
		return created, err
	}
	p, err := nh.LinkByName(v.Peer)
	if err != nil {
		return created, fmt.Errorf("netdev: peer %s in %s: %w", v.Peer, v.NSPath, err)
	}
	if v.MTU > 0 && p.Attrs().MTU != v.MTU {
		if err := nh.LinkSetMTU(p, v.MTU); err != nil {
			return created, err
		}
	}
	if err := nh.LinkSetUp(p); err != nil {
		return created, fmt.Errorf("netdev: up %s in %s: %w", v.Peer, v.NSPath, err)
	}
	return created, nil
}

// EnsureAddrs makes link (in the namespace at nsPath, or the host namespace
// when nsPath is "") carry exactly addrs: missing ones are added, others
// removed (IPv6 link-local addresses are left alone).
func EnsureAddrs(ctx context.Context, nsPath, link string, addrs []netip.Prefix) error {
	h, done, err := handle(nsPath)
	if err != nil {
		return err
	}
	defer done()
	l, err := h.LinkByName(link)
	if err != nil {
		return fmt.Errorf("netdev: %s: %w", link, err)
	}
	have, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	want := map[netip.Prefix]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	for _, a := range have {
		p, ok := toPrefix(a.IPNet)
		if !ok || p.Addr().IsLinkLocalUnicast() && p.Addr().Is6() {
			continue
		}
		if want[p] {
			delete(want, p)
			continue
		}
		if err := h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("netdev: del %s from %s: %w", p, link, err)
		}
	}
	for _, a := range addrs {
		if !want[a] {
			continue
		}
		ipn := &net.IPNet{IP: net.IP(a.Addr().AsSlice()), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netdev: add %s to %s: %w", a, link, err)
		}
	}
	return nil
}

func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Delete removes a link from the host namespace; a missing one is not an
// error. Deleting one end of a veth pair removes both.
func Delete(ctx context.Context, name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("netdev: delete %s: %w", name, err)
	}
	return nil
}

// List returns the names of host links starting with prefix.
func List(ctx context.Context, prefix string) ([]string, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}

// Ports returns the names of the links attached to bridge.
func Ports(ctx context.Context, bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, err
	}
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}

// MTU returns a link's MTU in the namespace at nsPath ("" = host).
func MTU(nsPath, name string) (int, error) {
	h, done, err := handle(nsPath)
	if err != nil {
		return 0, err
	}
	defer done()
	l, err := h.LinkByName(name)
	if err != nil {
		return 0, err
	}
	return l.Attrs().MTU, nil
}

func handle(nsPath string) (*netlink.Handle, func(), error) {
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, nil, err
		}
		return h, h.Close, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("netdev: namespace %s: %w", nsPath, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
