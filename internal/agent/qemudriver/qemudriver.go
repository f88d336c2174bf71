// Package qemudriver is the node agent's real hypervisor: it plugs a
// server's ports (a Linux bridge per network, a tap per port), keeps
// dnsmasq in each network's qdhcp namespace serving the node's ports their
// fixed IPs and MTU, answers the metadata service for its guests, and runs
// the guests with the QEMU driver (qcow2 overlays on cached images, config
// drive, serial console over QMP-managed processes that outlive the agent).
//
// What it knows of each server is saved in its state directory, so an
// agent restarted on the node rebuilds DHCP hosts and metadata without
// touching running guests.
package qemudriver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/driver/dnsmasq"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/driver/qemu"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/linux/netns"
	"github.com/gureum/gureum/internal/platform/errs"
)

// Config configures the driver.
type Config struct {
	// Dir holds instances/, image-cache/, dhcp/ and servers/.
	Dir string
	// DevicePrefix names bridges and taps ("gr-").
	DevicePrefix string
	// Grace bounds ACPI shutdowns before QEMU is stopped.
	Grace time.Duration
	// GuestNice is the nice value of running guests (0: unchanged).
	GuestNice int
	// MetadataPort is where the metadata service listens in each
	// namespace (80; tests may pick another).
	MetadataPort int
	// Inventory is the node's capacity (detected by the caller).
	Inventory agentapi.Inventory
	Log       *slog.Logger
}

// Driver implements agent.Driver with real QEMU and Linux networking.
type Driver struct {
	cfg  Config
	q    *qemu.QEMU
	br   *linuxbridge.Linux
	dhcp *dnsmasq.Dnsmasq
	md   *metadata.Server

	mu      sync.Mutex
	servers map[string]*agentapi.ServerSpec
}

var _ agent.Driver = (*Driver)(nil)

// New builds the driver and loads the specs of servers on this node.
func New(cfg Config) (*Driver, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace == 0 {
		cfg.Grace = 30 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "servers"), 0o700); err != nil {
		return nil, err
	}
	// dnsmasq re-reads its files after dropping root: every directory on
	// the way to them must be searchable (o+x, not readable) by others.
	if err := searchable(filepath.Join(cfg.Dir, "dhcp")); err != nil {
		return nil, err
	}
	q, err := qemu.New(qemu.Config{StateDir: filepath.Join(cfg.Dir, "instances"), CacheDir: filepath.Join(cfg.Dir, "image-cache"), Grace: cfg.Grace, GuestNice: cfg.GuestNice, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, q: q, br: linuxbridge.New(cfg.DevicePrefix), servers: map[string]*agentapi.ServerSpec{}}
	nsm := netns.New("")
	d.md = &metadata.Server{Source: d, NS: nsm, Port: cfg.MetadataPort, Log: cfg.Log}
	d.dhcp, err = dnsmasq.New(dnsmasq.Config{StateDir: filepath.Join(cfg.Dir, "dhcp"), Netns: nsm, Names: d.br.Names, Hook: d.md, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	entries, _ := os.ReadDir(filepath.Join(cfg.Dir, "servers"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, "servers", e.Name()))
		if err != nil {
			continue
		}
		var s agentapi.ServerSpec
		if json.Unmarshal(b, &s) == nil && s.ID != "" {
			d.servers[s.ID] = &s
		}
	}
	return d, nil
}

func searchable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	for p := abs; p != filepath.Dir(p); p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, st.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("qemudriver: make %s searchable for dnsmasq: %w", p, err)
			}
		}
	}
	return nil
}

// Close stops the metadata listeners (guests and dnsmasq keep running).
func (d *Driver) Close() { d.md.Close() }

// Namespace is the qdhcp namespace of a network.
func (d *Driver) Namespace(networkID string) string { return d.dhcp.Namespace(networkID) }

func (d *Driver) Info(ctx context.Context) (agent.DriverInfo, error) {
	inv := d.cfg.Inventory
	hv := "qemu"
	if d.q.Accel() == "kvm" {
		hv = "kvm"
	}
	return agent.DriverInfo{HypervisorType: hv, HypervisorVersion: 7002000, Inventory: inv,
		CPUInfo: agentapi.CPUInfo{Arch: "x86_64", Model: "qemu64", Vendor: "QEMU", Cores: 1, Threads: 1, Sockets: 1, Features: []string{}}}, nil
}

func (d *Driver) save(s *agentapi.ServerSpec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	path := filepath.Join(d.cfg.Dir, "servers", s.ID+".json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d.mu.Lock()
	d.servers[s.ID] = s
	d.mu.Unlock()
	return nil
}

func (d *Driver) forget(id string) {
	d.mu.Lock()
	delete(d.servers, id)
	d.mu.Unlock()
	_ = os.Remove(filepath.Join(d.cfg.Dir, "servers", id+".json"))
}

func (d *Driver) spec(id string) (*agentapi.ServerSpec, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.servers[id]
	if !ok {
		return nil, agent.ErrNotFound
	}
	return s, nil
}

// hosts lists the DHCP host entries of a network for every server here.
func (d *Driver) hosts(networkID string) []dnsmasq.Host {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []dnsmasq.Host
	for _, s := range d.servers {
		for _, n := range s.NICs {
			if n.NetworkID != networkID || len(n.FixedIPs) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(n.FixedIPs[0])
			if err != nil || !ip.Is4() {
				continue
			}
			out = append(out, dnsmasq.Host{MAC: n.MAC, IP: ip, Hostname: s.Hostname})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

// plug ensures the bridge, DHCP and tap of each NIC.
func (d *Driver) plug(ctx context.Context, s *agentapi.ServerSpec) ([]qemu.NIC, error) {
	var nics []qemu.NIC
	for _, n := range s.NICs {
		br, err := d.br.EnsureNetwork(ctx, linuxbridge.Network{ID: n.NetworkID, MTU: n.MTU})
		if err != nil {
			return nil, fmt.Errorf("bridge for %s: %w", n.NetworkID, err)
		}
		if n.CIDR != "" && n.DHCPIP != "" {
			dn, err := dhcpNetwork(n, br)
			if err != nil {
				return nil, err
			}
			if err := d.dhcp.EnsureNetwork(ctx, dn, d.hosts(n.NetworkID)); err != nil {
				return nil, fmt.Errorf("dhcp for %s: %w", n.NetworkID, err)
			}
		}
		tap, err := d.br.PlugPort(ctx, linuxbridge.Port{ID: n.PortID, NetworkID: n.NetworkID, MTU: n.MTU})
		if err != nil {
			return nil, fmt.Errorf("tap for %s: %w", n.PortID, err)
		}
		nics = append(nics, qemu.NIC{Tap: tap, MAC: n.MAC})
	}
	return nics, nil
}

func dhcpNetwork(n agentapi.NIC, bridge string) (dnsmasq.Network, error) {
	pfx, err := netip.ParsePrefix(n.CIDR)
	if err != nil {
		return dnsmasq.Network{}, fmt.Errorf("subnet %q: %w", n.CIDR, err)
	}
	dip, err := netip.ParseAddr(n.DHCPIP)
	if err != nil {
		return dnsmasq.Network{}, fmt.Errorf("dhcp address %q: %w", n.DHCPIP, err)
	}
	dn := dnsmasq.Network{ID: n.NetworkID, Bridge: bridge, MTU: n.MTU, Subnet: pfx.Masked(), DHCPIP: dip, Metadata: true, Lease: 24 * time.Hour}
	if gw, err := netip.ParseAddr(n.Gateway); err == nil {
		dn.Gateway = gw
	}
	for _, s := range n.DNSServers {
		if a, err := netip.ParseAddr(s); err == nil {
			dn.DNS = append(dn.DNS, a)
		}
	}
	return dn, nil
}

func cacheImage(r agentapi.ImageRef) imagecache.Image {
	img := imagecache.Image{ID: r.ID}
	switch {
	case r.HashAlgo != "" && r.HashValue != "":
		img.Hash = r.HashAlgo + ":" + r.HashValue
	case r.Checksum != "":
		img.Hash = "md5:" + r.Checksum
	}
	if r.Path != "" {
		img.Open = imagecache.FileSource(r.Path)
	}
	return img
}

func (d *Driver) qemuSpec(s *agentapi.ServerSpec, nics []qemu.NIC) qemu.Spec {
	img := cacheImage(s.Image)
	format := s.Image.DiskFormat
	if format == "" {
		format = "qcow2"
	}
	qs := qemu.Spec{ID: s.ID, VCPUs: s.VCPUs, MemoryMB: s.MemoryMB, RootGB: s.DiskGB, Image: img, ImageFormat: format, NICs: nics}
	if s.ConfigDrive {
		qs.ConfigDrive = instance(s)
	}
	if s.Kernel != nil {
		k := cacheImage(*s.Kernel)
		qs.Kernel, qs.Cmdline = &k, s.Cmdline
		if s.Ramdisk != nil {
			r := cacheImage(*s.Ramdisk)
			qs.Ramdisk = &r
		}
	}
	return qs
}

// instance is what the guest learns of itself (config drive, metadata).
func instance(s *agentapi.ServerSpec) *metadata.Instance {
	in := &metadata.Instance{UUID: s.ID, Name: s.Name, Hostname: s.Hostname, ProjectID: s.ProjectID, AvailabilityZone: s.AvailabilityZone,
		LaunchIndex: s.LaunchIndex, ImageID: s.Image.ID, Meta: s.Metadata}
	if s.PublicKey != "" {
		in.Keys = []metadata.Key{{Name: s.KeyName, Type: "ssh", Data: strings.TrimSpace(s.PublicKey)}}
	}
	if s.UserData != "" {
		if b, err := base64.StdEncoding.DecodeString(s.UserData); err == nil {
			in.UserData = b
		}
	}
	for i, n := range s.NICs {
		link := fmt.Sprintf("tap%d", i)
		in.Network.Links = append(in.Network.Links, metadata.Link{ID: link, Type: "bridge", EthernetMACAddress: n.MAC, MTU: n.MTU, VifID: n.PortID})
		in.Network.Networks = append(in.Network.Networks, metadata.Network{ID: fmt.Sprintf("network%d", i), Type: "ipv4_dhcp", Link: link, NetworkID: n.NetworkID})
		if i == 0 && len(n.FixedIPs) > 0 {
			in.LocalIPv4 = n.FixedIPs[0]
		}
	}
	return in
}

// InstanceByIP implements metadata.Source for the node's own ports only.
func (d *Driver) InstanceByIP(_ context.Context, networkID string, ip netip.Addr) (*metadata.Instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.servers {
		for _, n := range s.NICs {
			if n.NetworkID != networkID {
				continue
			}
			for _, a := range n.FixedIPs {
				if a == ip.String() {
					return instance(s), nil
				}
			}
		}
	}
	return nil, errs.NotFound("no instance with %s on network %s", ip, networkID)
}

func (d *Driver) Spawn(ctx context.Context, s *agentapi.ServerSpec) error {
	if err := d.save(s); err != nil {
		return err
	}
	t0 := time.Now()
	nics, err := d.plug(ctx, s)
	if err != nil {
		return err
	}
	tPlug := time.Since(t0)
	_, err = d.q.Spawn(ctx, d.qemuSpec(s, nics))
	d.cfg.Log.Debug("spawned", "server", s.ID, "plug_ms", tPlug.Milliseconds(), "qemu_ms", (time.Since(t0) - tPlug).Milliseconds())
	return err
}

func (d *Driver) Destroy(ctx context.Context, id string) error {
	s, _ := d.spec(id)
	if err := d.q.Destroy(ctx, id); err != nil {
		return err
	}
	if s == nil {
		return nil
	}
	d.forget(id)
	for _, n := range s.NICs {
		if err := d.br.UnplugPort(ctx, n.PortID); err != nil {
			return err
		}
		// The last server of a network on this node takes the network's
		// DHCP namespace and bridge with it: nothing is left behind.
		if !d.usesNetwork(n.NetworkID) {
			if err := d.dhcp.DeleteNetwork(ctx, n.NetworkID); err != nil && !errs.Is(err, errs.KindNotFound) {
				return err
			}
			if err := d.br.DeleteNetwork(ctx, n.NetworkID); err != nil && !errs.Is(err, errs.KindNotFound) {
				return err
			}
			continue
		}
		if len(n.FixedIPs) > 0 && n.DHCPIP != "" {
			if err := d.dhcp.SetHosts(ctx, n.NetworkID, d.hosts(n.NetworkID)); err != nil && !errs.Is(err, errs.KindNotFound) {
				d.cfg.Log.Warn("dhcp hosts after delete", "network", n.NetworkID, "err", err)
			}
		}
	}
	return nil
}

func (d *Driver) usesNetwork(networkID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.servers {
		for _, n := range s.NICs {
			if n.NetworkID == networkID {
				return true
			}
		}
	}
	return false
}

func (d *Driver) Power(ctx context.Context, id, op string, hard bool) error {
	switch op {
	case agentapi.OpStart:
		// Ports may be gone after a host reboot: plug again first.
		if s, err := d.spec(id); err == nil {
			if _, err := d.plug(ctx, s); err != nil {
				return err
			}
		}
		return d.q.PowerOn(ctx, id)
	case agentapi.OpStop:
		return d.q.PowerOff(ctx, id)
	case agentapi.OpReboot:
		return d.q.Reboot(ctx, id, hard)
	case agentapi.OpPause:
		return d.q.Pause(ctx, id)
	case agentapi.OpUnpause:
		return d.q.Unpause(ctx, id)
	case agentapi.OpSuspend:
		return d.q.Suspend(ctx, id)
	case agentapi.OpResume:
		return d.q.Resume(ctx, id)
	case agentapi.OpCrashDump:
		return errs.Conflict("crash dumps are not supported by the QEMU driver yet")
	}
	return fmt.Errorf("unknown power operation %q", op)
}

// Rebuild replaces the disk: destroy the instance (keeping ports) and
// spawn it again from the new image.
func (d *Driver) Rebuild(ctx context.Context, s *agentapi.ServerSpec) error {
	if err := d.q.Destroy(ctx, s.ID); err != nil {
		return err
	}
	return d.Spawn(ctx, s)
}

// Resize: power off, new sizes, grow the disk, power on.
func (d *Driver) Resize(ctx context.Context, s *agentapi.ServerSpec) error {
	info, err := d.q.Info(ctx, s.ID)
	if err != nil {
		return err
	}
	if info.Status != qemu.Shutoff {
		if err := d.q.PowerOff(ctx, s.ID); err != nil {
			return err
		}
	}
	if err := d.q.SetFlavor(ctx, s.ID, s.VCPUs, s.MemoryMB); err != nil {
		return err
	}
	if err := d.q.ResizeDisk(ctx, s.ID, s.DiskGB); err != nil {
		return err
	}
	if old, err := d.spec(s.ID); err == nil {
		s.NICs = old.NICs
	}
	if err := d.save(s); err != nil {
		return err
	}
	return d.q.PowerOn(ctx, s.ID)
}

func (d *Driver) Console(ctx context.Context, id string, lines int) (string, error) {
	return d.q.ConsoleOutput(ctx, id, lines)
}

func (d *Driver) Snapshot(ctx context.Context, id, path string) error {
	return d.q.Snapshot(ctx, id, path)
}

var powerOf = map[qemu.Status]int{qemu.Running: agentapi.PowerRunning, qemu.Paused: agentapi.PowerPaused, qemu.Suspended: agentapi.PowerSuspended,
	qemu.Shutoff: agentapi.PowerShutdown, qemu.Crashed: agentapi.PowerCrashed}

func (d *Driver) List(ctx context.Context) ([]agentapi.Observed, error) {
	infos, err := d.q.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]agentapi.Observed, 0, len(infos))
	for _, in := range infos {
		if in.Status == qemu.NotFound {
			continue
		}
		out = append(out, agentapi.Observed{ServerID: in.ID, PowerState: powerOf[in.Status], Unknown: in.Status == qemu.Unknown})
	}
	return out, nil
}

func (d *Driver) Observe(ctx context.Context, id string) (agentapi.Observed, error) {
	in, err := d.q.Info(ctx, id)
	if err != nil {
		return agentapi.Observed{}, err
	}
	if in.Status == qemu.NotFound {
		return agentapi.Observed{}, agent.ErrNotFound
	}
	return agentapi.Observed{ServerID: in.ID, PowerState: powerOf[in.Status]}, nil
}

// Reattach re-ensures networks and metadata listeners for the servers the
// node runs (after an agent restart); guests are not touched.
func (d *Driver) Reattach(ctx context.Context) error {
	d.mu.Lock()
	specs := make([]*agentapi.ServerSpec, 0, len(d.servers))
	for _, s := range d.servers {
		specs = append(specs, s)
	}
	d.mu.Unlock()
	var errList []error
	for _, s := range specs {
		if _, err := d.plug(ctx, s); err != nil {
			errList = append(errList, fmt.Errorf("%s: %w", s.ID, err))
		}
	}
	return errors.Join(errList...)
}
