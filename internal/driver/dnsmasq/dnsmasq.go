// Package dnsmasq serves DHCP for a tenant network from a `qdhcp-<network
// id>` namespace: a veth pair joins the namespace to the network's bridge
// and one dnsmasq per network hands each port its fixed IP by MAC (static
// mode: unknown MACs get nothing), with the network's MTU (option 26), the
// gateway and DNS servers. Host entries and options live in files dnsmasq
// re-reads on SIGHUP, so ports come and go without restarting it. A hook
// (the metadata server) is attached to the namespace too.
package dnsmasq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/linux/netdev"
	"github.com/gureum/gureum/internal/linux/netns"
	"github.com/gureum/gureum/internal/linux/proc"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/keylock"
	"github.com/gureum/gureum/internal/platform/revert"
)

// Network is the DHCP view of a network's (IPv4) subnet on this host.
type Network struct {
	ID      string
	Bridge  string // the network's bridge (linuxbridge.Driver.EnsureNetwork)
	MTU     int
	Subnet  netip.Prefix // e.g. 10.0.0.0/24
	DHCPIP  netip.Addr   // the DHCP port's fixed IP, inside Subnet
	Gateway netip.Addr   // zero: no router (isolated network)
	DNS     []netip.Addr // handed out as option 6; none: option omitted
	Lease   time.Duration
	// Metadata routes 169.254.169.254 to the namespace (option 121) and
	// attaches the hook there.
	Metadata bool
}

// Host is a port's fixed address.
type Host struct {
	MAC      string
	IP       netip.Addr
	Hostname string // optional DNS label
}

// Driver serves DHCP for networks.
type Driver interface {
	// EnsureNetwork creates or repairs the namespace, veth, addresses and
	// dnsmasq, and installs hosts. Idempotent.
	EnsureNetwork(ctx context.Context, n Network, hosts []Host) error
	// SetHosts replaces the network's host entries (no restart).
	SetHosts(ctx context.Context, networkID string, hosts []Host) error
	// DeleteNetwork stops dnsmasq and removes the namespace and veth.
	DeleteNetwork(ctx context.Context, networkID string) error
	// Networks lists the networks this driver serves on this host.
	Networks(ctx context.Context) ([]string, error)
	// Namespace is the namespace name of a network.
	Namespace(networkID string) string
}

// Hook is attached to each network's namespace after dnsmasq runs
// (*metadata.Server implements it).
type Hook interface {
	Attach(ctx context.Context, ns, networkID string) error
	Detach(ctx context.Context, networkID string) error
}

var _ Hook = (*metadata.Server)(nil)

// Config says where things live.
type Config struct {
	Dnsmasq  string // binary, default "dnsmasq"
	StateDir string // one directory per network: hosts, opts, leases, pid
	Netns    *netns.Manager
	Names    linuxbridge.Names // veth naming, shared with the bridge driver
	NSPrefix string            // default "qdhcp-"
	Hook     Hook              // optional
	Log      *slog.Logger
}

// Dnsmasq is the real driver.
type Dnsmasq struct {
	cfg Config

	locks keylock.Map // one operation at a time per object
}

var _ Driver = (*Dnsmasq)(nil)

// nsIface is the veth end inside every qdhcp namespace.
const nsIface = "ns-dhcp"

// New returns a driver.
func New(cfg Config) (*Dnsmasq, error) {
	if cfg.Dnsmasq == "" {
		cfg.Dnsmasq = "dnsmasq"
	}
	if cfg.NSPrefix == "" {
		cfg.NSPrefix = "qdhcp-"
	}
	if cfg.Netns == nil {
		cfg.Netns = netns.New("")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("dnsmasq: StateDir is required")
	}
	// World-traversable: dnsmasq drops privileges and re-reads the
	// hosts/opts files as its own user on SIGHUP.
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, err
	}
	if err := traversable(cfg.StateDir); err != nil {
		return nil, err
	}
	return &Dnsmasq{cfg: cfg}, nil
}

// traversable checks that every directory up to dir lets others through:
// otherwise dnsmasq, once it has dropped root, silently fails to re-read
// its hosts and options and hands out no leases.
func traversable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("dnsmasq: %s must be searchable by others (chmod o+x): dnsmasq re-reads its files after dropping root", p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (d *Dnsmasq) lock(id string) func() { return d.locks.Lock(id) }

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{7,63}$`)
var macRE = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
var labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func checkID(id string) error {
	if !idRE.MatchString(id) {
		return errs.BadRequest("dnsmasq: invalid network id %q", id)
	}
	return nil
}

// Namespace implements Driver.
func (d *Dnsmasq) Namespace(id string) string { return d.cfg.NSPrefix + id }

func (d *Dnsmasq) dir(id string) string { return filepath.Join(d.cfg.StateDir, id) }

func (n *Network) validate() error {
	if err := checkID(n.ID); err != nil {
		return err
	}
	if n.Bridge == "" || len(n.Bridge) > netdev.MaxNameLen {
		return errs.BadRequest("dnsmasq: bad bridge %q", n.Bridge)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() > 30 {
		return errs.BadRequest("dnsmasq: subnet %v must be IPv4 with room for hosts", n.Subnet)
	}
	n.Subnet = n.Subnet.Masked()
	if !n.Subnet.Contains(n.DHCPIP) {
		return errs.BadRequest("dnsmasq: DHCP address %v outside %v", n.DHCPIP, n.Subnet)
	}
	if n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway) {
		return errs.BadRequest("dnsmasq: gateway %v outside %v", n.Gateway, n.Subnet)
	}
	if n.MTU != 0 && (n.MTU < 576 || n.MTU > 65535) {
		return errs.BadRequest("dnsmasq: MTU %d out of range", n.MTU)
	}
	if len(n.DNS) > 8 {
		return errs.BadRequest("dnsmasq: at most 8 DNS servers")
	}
	if n.Lease == 0 {
		n.Lease = 24 * time.Hour
	}
	if n.Lease < 2*time.Minute {
		return errs.BadRequest("dnsmasq: lease %v too short", n.Lease)
	}
	return nil
}

func netmask(p netip.Prefix) string {
	m := uint32(0xffffffff) << (32 - p.Bits())
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// cmdline is everything that needs a restart to change; the rest (hosts,
// options) is in files re-read on SIGHUP.
func (d *Dnsmasq) cmdline(n Network) []string {
	dir := d.dir(n.ID)
	return []string{
		"--keep-in-foreground",
		"--conf-file=",                          // never read the host's /etc/dnsmasq.conf
		"--pid-file=",                           // our pidfile is written by proc
		"--no-hosts", "--no-resolv", "--port=0", // DHCP only
		"--interface=" + nsIface, "--except-interface=lo",
		// --bind-interfaces fails in a namespace ("error binding DHCP
		// socket to device"); --bind-dynamic works.
		"--bind-dynamic",
		"--dhcp-range=set:subnet0," + n.Subnet.Addr().String() + ",static," + netmask(n.Subnet) + "," + strconv.Itoa(int(n.Lease/time.Second)) + "s",
		"--dhcp-authoritative",
		"--dhcp-hostsfile=" + filepath.Join(dir, "hosts"),
		"--dhcp-optsfile=" + filepath.Join(dir, "opts"),
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"--log-facility=" + filepath.Join(dir, "dnsmasq.log"),
		"--log-dhcp",
	}
}

func optsFile(n Network) string {
	var b strings.Builder
	// An empty option 3 stops dnsmasq from offering itself as the router.
	if n.Gateway.IsValid() {
		fmt.Fprintf(&b, "tag:subnet0,option:router,%s\n", n.Gateway)
	} else {
		b.WriteString("tag:subnet0,option:router\n")
	}
	if len(n.DNS) > 0 {
		s := make([]string, len(n.DNS))
		for i, a := range n.DNS {
			s[i] = a.String()
		}
		fmt.Fprintf(&b, "tag:subnet0,option:dns-server,%s\n", strings.Join(s, ","))
	}
	if n.MTU > 0 {
		fmt.Fprintf(&b, "tag:subnet0,option:mtu,%d\n", n.MTU)
	}
	if n.Metadata {
		// With option 121 clients ignore option 3 (RFC 3442): repeat the
		// default route in it.
		r := metadata.Address + "/32," + n.DHCPIP.String()
		if n.Gateway.IsValid() {
			r += ",0.0.0.0/0," + n.Gateway.String()
		}
		fmt.Fprintf(&b, "tag:subnet0,option:classless-static-route,%s\n", r)
	}
	return b.String()
}

func hostsFile(n netip.Prefix, hosts []Host) (string, error) {
	lines := make([]string, 0, len(hosts))
	seenMAC, seenIP := map[string]bool{}, map[netip.Addr]bool{}
	for _, h := range hosts {
		mac := strings.ToLower(h.MAC)
		if !macRE.MatchString(mac) {
			return "", errs.BadRequest("dnsmasq: bad MAC %q", h.MAC)
		}
		if !h.IP.Is4() || (n.IsValid() && !n.Contains(h.IP)) {
			return "", errs.BadRequest("dnsmasq: address %v is not in %v", h.IP, n)
		}
		if seenMAC[mac] || seenIP[h.IP] {
			return "", errs.Conflict("dnsmasq: duplicate host %s / %s", mac, h.IP)
		}
		seenMAC[mac], seenIP[h.IP] = true, true
		l := mac + "," + h.IP.String()
		if labelRE.MatchString(h.Hostname) {
			l += "," + h.Hostname
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

func writeFile(path, content string) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

// EnsureNetwork implements Driver.
func (d *Dnsmasq) EnsureNetwork(ctx context.Context, n Network, hosts []Host) error {
	if err := n.validate(); err != nil {
		return err
	}
	hf, err := hostsFile(n.Subnet, hosts)
	if err != nil {
		return err
	}
	defer d.lock(n.ID)()
	dir, ns := d.dir(n.ID), d.Namespace(n.ID)
	host := d.cfg.Names.DHCP(n.ID)

	r := revert.New()
	defer r.Fail()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		r.Add(func() { os.RemoveAll(dir) })
	}
	created, err := d.cfg.Netns.Ensure(ctx, ns)
	if err != nil {
		return err
	}
	if created {
		r.Add(func() { _ = d.cfg.Netns.Delete(context.WithoutCancel(ctx), ns) })
	}
	created, err = netdev.EnsureVeth(ctx, netdev.Veth{Host: host, Bridge: n.Bridge, Peer: nsIface, NSPath: d.cfg.Netns.Path(ns), MTU: n.MTU})
	if created {
		r.Add(func() { _ = netdev.Delete(context.WithoutCancel(ctx), host) })
	}
	if err != nil {
		return err
	}
	addrs := []netip.Prefix{netip.PrefixFrom(n.DHCPIP, n.Subnet.Bits())}
	if n.Metadata {
		addrs = append(addrs, netip.MustParsePrefix(metadata.Address+"/32"))
	}
	if err := netdev.EnsureAddrs(ctx, d.cfg.Netns.Path(ns), nsIface, addrs); err != nil {
		return err
	}
	hostsChanged, err := writeFile(filepath.Join(dir, "hosts"), hf)
	if err != nil {
		return err
	}
	optsChanged, err := writeFile(filepath.Join(dir, "opts"), optsFile(n))
	if err != nil {
		return err
	}
	args := d.cmdline(n)
	sum := sha256.Sum256([]byte(strings.Join(append([]string{d.cfg.Dnsmasq}, args...), "\x00")))
	argsChanged, err := writeFile(filepath.Join(dir, "cmdline.sha256"), hex.EncodeToString(sum[:]))
	if err != nil {
		return err
	}
	pidfile := filepath.Join(dir, "dnsmasq.pid")
	pr, err := proc.Adopt(pidfile)
	switch {
	case err == nil && argsChanged:
		if err := pr.Stop(ctx, 5*time.Second); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, proc.ErrNotRunning) || argsChanged:
		// A fresh log per start: waitStarted looks for this run's banner.
		logPath := filepath.Join(dir, "dnsmasq.log")
		if err := os.Truncate(logPath, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		cmd := exec.Command(d.cfg.Dnsmasq, args...)
		pr, err = proc.Start(cmd, pidfile, func(c *exec.Cmd) error { return d.cfg.Netns.Start(ns, c) })
		if err != nil {
			return fmt.Errorf("dnsmasq: network %s: %w", n.ID, err)
		}
		r.Add(func() { _ = pr.Stop(context.WithoutCancel(ctx), 5*time.Second) })
		if err := waitStarted(ctx, pr, logPath); err != nil {
			return fmt.Errorf("dnsmasq: network %s: %w", n.ID, err)
		}
		d.cfg.Log.Info("dnsmasq started", "network", n.ID, "namespace", ns, "pid", pr.Pid)
	case err != nil:
		return err
	case hostsChanged || optsChanged:
		if err := pr.Signal(syscall.SIGHUP); err != nil {
			return err
		}
	}
	if n.Metadata && d.cfg.Hook != nil {
		if err := d.cfg.Hook.Attach(ctx, ns, n.ID); err != nil {
			return err
		}
	}
	r.Success()
	return nil
}

// waitStarted waits for dnsmasq's "started" log line: it is written after
// its signal handlers are installed, so a SIGHUP sent earlier would kill it
// instead of reloading the hosts. A bad option makes it exit at once:
// report that with its last log lines.
func waitStarted(ctx context.Context, pr *proc.Process, logPath string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, _ := os.ReadFile(logPath)
		if strings.Contains(string(msg), "started, version") {
			return nil
		}
		if !pr.Alive() {
			return fmt.Errorf("exited at start: %s", lastLines(string(msg), 3))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not started after 10s: %s", lastLines(string(msg), 3))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "; ")
}

// SetHosts implements Driver.
func (d *Dnsmasq) SetHosts(ctx context.Context, networkID string, hosts []Host) error {
	if err := checkID(networkID); err != nil {
		return err
	}
	defer d.lock(networkID)()
	dir := d.dir(networkID)
	if _, err := os.Stat(dir); err != nil {
		return errs.NotFound("dnsmasq: network %s is not served on this host", networkID)
	}
	hf, err := hostsFile(netip.Prefix{}, hosts)
	if err != nil {
		return err
	}
	changed, err := writeFile(filepath.Join(dir, "hosts"), hf)
	if err != nil || !changed {
		return err
	}
	pr, err := proc.Adopt(filepath.Join(dir, "dnsmasq.pid"))
	if err != nil {
		return fmt.Errorf("dnsmasq: network %s: %w", networkID, err)
	}
	return pr.Signal(syscall.SIGHUP)
}

// DeleteNetwork implements Driver.
func (d *Dnsmasq) DeleteNetwork(ctx context.Context, networkID string) error {
	if err := checkID(networkID); err != nil {
		return err
	}
	defer d.lock(networkID)()
	if d.cfg.Hook != nil {
		if err := d.cfg.Hook.Detach(ctx, networkID); err != nil {
			return err
		}
	}
	dir := d.dir(networkID)
	if pr, err := proc.Adopt(filepath.Join(dir, "dnsmasq.pid")); err == nil {
		if err := pr.Stop(ctx, 5*time.Second); err != nil {
			return err
		}
	}
	if err := netdev.Delete(ctx, d.cfg.Names.DHCP(networkID)); err != nil {
		return err
	}
	if err := d.cfg.Netns.Delete(ctx, d.Namespace(networkID)); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Networks implements Driver: the networks with a state directory here
// (never other software's qdhcp- namespaces).
func (d *Dnsmasq) Networks(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(d.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && idRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Leases returns the MAC → IP leases dnsmasq has handed out (for tests and
// the agent's observed state).
func (d *Dnsmasq) Leases(networkID string) (map[string]string, error) {
	if err := checkID(networkID); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.dir(networkID), "leases"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 {
			out[f[1]] = f[2]
		}
	}
	return out, nil
}

// Fake records networks and hosts for controller tests.
type Fake struct {
	mu       sync.Mutex
	Served   map[string]Network
	HostsOf  map[string][]Host
	NSPrefix string
}

var _ Driver = (*Fake)(nil)

func (f *Fake) init() {
	if f.Served == nil {
		f.Served, f.HostsOf = map[string]Network{}, map[string][]Host{}
	}
}

func (f *Fake) EnsureNetwork(ctx context.Context, n Network, hosts []Host) error {
	if err := n.validate(); err != nil {
		return err
	}
	if _, err := hostsFile(n.Subnet, hosts); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.Served[n.ID] = n
	f.HostsOf[n.ID] = slices.Clone(hosts)
	return nil
}

func (f *Fake) SetHosts(ctx context.Context, id string, hosts []Host) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	n, ok := f.Served[id]
	if !ok {
		return errs.NotFound("dnsmasq: network %s is not served on this host", id)
	}
	if _, err := hostsFile(n.Subnet, hosts); err != nil {
		return err
	}
	f.HostsOf[id] = slices.Clone(hosts)
	return nil
}

func (f *Fake) DeleteNetwork(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	delete(f.Served, id)
	delete(f.HostsOf, id)
	return nil
}

func (f *Fake) Networks(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.Served {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

func (f *Fake) Namespace(id string) string {
	if f.NSPrefix == "" {
		return "qdhcp-" + id
	}
	return f.NSPrefix + id
}
