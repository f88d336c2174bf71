package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gureum/gureum/internal/driver/configdrive"
	"github.com/gureum/gureum/internal/driver/qemu/imagecache"
	"github.com/gureum/gureum/internal/driver/qemu/qmp"
	"github.com/gureum/gureum/internal/linux/proc"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/keylock"
	"github.com/gureum/gureum/internal/platform/revert"
)

// Config is where the driver keeps things and which binaries it runs.
type Config struct {
	StateDir  string // one subdirectory per instance
	CacheDir  string // base images (imagecache)
	QEMU      string // qemu-system-x86_64
	QEMUImg   string // qemu-img
	ISOTool   string // genisoimage (config drives)
	KVMDevice string // /dev/kvm; KVM is used when it opens read-write
	Accel     string // "" (auto), "kvm" or "tcg"
	Machine   string // QEMU machine type, default "pc"
	// Grace is how long PowerOff and a soft Reboot wait for the guest to
	// act on the ACPI power button before forcing.
	Grace time.Duration
	// MaxConsoleBytes bounds how much of the console log ConsoleOutput
	// reads (from its end).
	MaxConsoleBytes int64
	// GuestNice lowers the CPU priority of a guest's threads once its
	// monitor answers (0: unchanged). QEMU starts at the agent's priority so
	// that starting a guest is not slowed by the guests already running.
	GuestNice int
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.QEMU == "" {
		c.QEMU = "qemu-system-x86_64"
	}
	if c.QEMUImg == "" {
		c.QEMUImg = "qemu-img"
	}
	if c.ISOTool == "" {
		c.ISOTool = "genisoimage"
	}
	if c.KVMDevice == "" {
		c.KVMDevice = "/dev/kvm"
	}
	if c.Machine == "" {
		c.Machine = "pc"
	}
	if c.Grace == 0 {
		c.Grace = 60 * time.Second
	}
	if c.MaxConsoleBytes == 0 {
		c.MaxConsoleBytes = 4 << 20
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// QEMU is the Driver backed by real QEMU processes.
type QEMU struct {
	cfg   Config
	cache *imagecache.Cache
	accel string
	vhost bool // /dev/vhost-net usable

	locks  keylock.Map // one operation at a time per object
	vsizes sync.Map    // base image path → virtual size
}

var _ Driver = (*QEMU)(nil)

// New returns a driver; it creates the directories and picks the
// accelerator. Instances already running under cfg.StateDir are adopted
// on first use: nothing is restarted.
func New(cfg Config) (*QEMU, error) {
	cfg.defaults()
	if cfg.StateDir == "" || cfg.CacheDir == "" {
		return nil, errors.New("qemu: StateDir and CacheDir are required")
	}
	for _, d := range []string{cfg.StateDir, cfg.CacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	d := &QEMU{cfg: cfg, cache: imagecache.New(cfg.CacheDir)}
	switch cfg.Accel {
	case "kvm", "tcg":
		d.accel = cfg.Accel
	case "":
		d.accel = "tcg"
		if f, err := os.OpenFile(cfg.KVMDevice, os.O_RDWR, 0); err == nil {
			f.Close()
			d.accel = "kvm"
		}
	default:
		return nil, fmt.Errorf("qemu: unknown accelerator %q", cfg.Accel)
	}
	if f, err := os.OpenFile("/dev/vhost-net", os.O_RDWR, 0); err == nil {
		f.Close()
		d.vhost = true
	}
	return d, nil
}

// Accel is the accelerator in use ("kvm" or "tcg").
func (d *QEMU) Accel() string { return d.accel }

// Cache is the node's base image cache.
func (d *QEMU) Cache() *imagecache.Cache { return d.cache }

func (d *QEMU) lock(id string) func() { return d.locks.Lock(id) }

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
var macRE = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// files of one instance.
type paths struct{ dir string }

func (d *QEMU) paths(id string) paths { return paths{filepath.Join(d.cfg.StateDir, id)} }
func (p paths) spec() string          { return filepath.Join(p.dir, "spec.json") }
func (p paths) pid() string           { return filepath.Join(p.dir, "qemu.pid") }
func (p paths) qmp() string           { return filepath.Join(p.dir, "qmp.sock") }
func (p paths) console() string       { return filepath.Join(p.dir, "console.log") }
func (p paths) disk() string          { return filepath.Join(p.dir, "disk.qcow2") }
func (p paths) iso() string           { return filepath.Join(p.dir, "config.iso") }
func (p paths) log() string           { return filepath.Join(p.dir, "qemu.log") }
func (p paths) suspended() string     { return filepath.Join(p.dir, "suspended") }
func (p paths) state() string         { return filepath.Join(p.dir, "suspend.state") }

func checkID(id string) error {
	if !idRE.MatchString(id) {
		return errs.BadRequest("qemu: invalid instance id %q", id)
	}
	return nil
}

func (d *QEMU) validate(s *Spec) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	if s.VCPUs < 1 || s.VCPUs > 256 {
		return errs.BadRequest("qemu: vcpus %d out of range", s.VCPUs)
	}
	if s.MemoryMB < 32 || s.MemoryMB > 4<<20 {
		return errs.BadRequest("qemu: memory %d MB out of range", s.MemoryMB)
	}
	if s.RootGB < 0 || s.RootGB > 64<<10 {
		return errs.BadRequest("qemu: root disk %d GB out of range", s.RootGB)
	}
	switch s.ImageFormat {
	case "":
		s.ImageFormat = "qcow2"
	case "qcow2", "raw":
	default:
		return errs.BadRequest("qemu: unsupported disk format %q", s.ImageFormat)
	}
	if s.Ramdisk != nil && s.Kernel == nil {
		return errs.BadRequest("qemu: a ramdisk needs a kernel")
	}
	if strings.ContainsAny(s.Cmdline, "\x00\n") || len(s.Cmdline) > 2048 {
		return errs.BadRequest("qemu: bad kernel command line")
	}
	for _, n := range s.NICs {
		if !macRE.MatchString(n.MAC) || n.Tap == "" || len(n.Tap) > 15 || strings.ContainsAny(n.Tap, ", /") {
			return errs.BadRequest("qemu: bad NIC %+v", n)
		}
	}
	// A unix socket path is limited to 107 bytes.
	if l := len(d.paths(s.ID).qmp()); l > 107 {
		return fmt.Errorf("qemu: state dir too long for a QMP socket path (%d bytes)", l)
	}
	return nil
}

// Spawn implements Driver.
func (d *QEMU) Spawn(ctx context.Context, spec Spec) (Info, error) {
	if err := d.validate(&spec); err != nil {
		return Info{}, err
	}
	defer d.lock(spec.ID)()
	p := d.paths(spec.ID)
	if proc, err := proc.Adopt(p.pid()); err == nil && proc.Alive() {
		return d.info(ctx, spec.ID)
	}

	r := revert.New()
	defer r.Fail()
	if _, err := os.Stat(p.dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(p.dir, 0o700); err != nil {
			return Info{}, err
		}
		r.Add(func() { os.RemoveAll(p.dir) })
	}
	base, _, err := d.cache.Ensure(ctx, spec.Image)
	if err != nil {
		return Info{}, err
	}
	for _, img := range []*imagecache.Image{spec.Kernel, spec.Ramdisk} {
		if img != nil {
			if _, _, err := d.cache.Ensure(ctx, *img); err != nil {
				return Info{}, err
			}
		}
	}
	// The overlay and the config drive are independent: make them at the
	// same time (each is a child process; this is on the boot's critical
	// path).
	var isoErr error
	isoDone := make(chan struct{})
	go func() {
		defer close(isoDone)
		if spec.ConfigDrive != nil {
			isoErr = (configdrive.Builder{Tool: d.cfg.ISOTool}).Build(ctx, p.iso(), spec.ConfigDrive)
		}
	}()
	var diskErr error
	if _, err := os.Stat(p.disk()); errors.Is(err, os.ErrNotExist) {
		if diskErr = d.createOverlay(ctx, base, spec.ImageFormat, p.disk(), spec.RootGB); diskErr == nil {
			r.Add(func() { os.Remove(p.disk()) })
		}
	}
	<-isoDone
	if spec.ConfigDrive != nil && isoErr == nil {
		r.Add(func() { os.Remove(p.iso()) })
	}
	if diskErr != nil {
		return Info{}, diskErr
	}
	if isoErr != nil {
		return Info{}, isoErr
	}
	if err := writeJSON(p.spec(), spec); err != nil {
		return Info{}, err
	}
	tStart := time.Now()
	if err := d.start(ctx, spec); err != nil {
		return Info{}, err
	}
	d.cfg.Log.Debug("qemu running", "instance", spec.ID, "start_ms", time.Since(tStart).Milliseconds())
	r.Success()
	return d.info(ctx, spec.ID)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (d *QEMU) loadSpec(id string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(d.paths(id).spec())
	if errors.Is(err, os.ErrNotExist) {
		return s, errs.NotFound("qemu: instance %s not found on this node", id)
	}
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func (d *QEMU) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// virtualSize returns a disk image's virtual size in bytes. -U lets it read
// an image a running QEMU holds locked.
func (d *QEMU) virtualSize(ctx context.Context, path, format string) (int64, error) {
	args := []string{"info", "-U", "--output=json"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out, err := d.run(ctx, d.cfg.QEMUImg, append(args, path)...)
	if err != nil {
		return 0, err
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return 0, err
	}
	return info.VirtualSize, nil
}

func (d *QEMU) createOverlay(ctx context.Context, base, format, disk string, rootGB int) error {
	// A cached base never changes (it is read-only and keyed by its hash):
	// ask qemu-img for its size once per driver.
	var vs int64
	if v, ok := d.vsizes.Load(base); ok {
		vs = v.(int64)
	} else {
		var err error
		if vs, err = d.virtualSize(ctx, base, format); err != nil {
			return err
		}
		d.vsizes.Store(base, vs)
	}
	size := vs
	if rootGB > 0 {
		want := int64(rootGB) << 30
		if want < vs {
			return errs.BadRequest("qemu: image virtual size %d bytes is larger than the %d GB root disk", vs, rootGB)
		}
		size = want
	}
	_, err := d.run(ctx, d.cfg.QEMUImg, "create", "-q", "-f", "qcow2", "-b", base, "-F", format, disk, strconv.FormatInt(size, 10))
	return err
}

func (d *QEMU) args(spec Spec) ([]string, error) {
	p := d.paths(spec.ID)
	root := p.disk()
	if spec.Rescue != nil {
		root = p.rescueDisk()
	}
	a := []string{
		"-name", "guest=" + spec.ID + ",debug-threads=on",
		"-machine", d.cfg.Machine + ",accel=" + d.accel,
		"-smp", strconv.Itoa(spec.VCPUs),
		"-m", strconv.Itoa(spec.MemoryMB),
		"-nodefaults", "-no-user-config", "-display", "none",
		// seccomp: a guest escaping into QEMU cannot use obsolete syscalls,
		// setuid or resource controls. Spawning stays allowed: Suspend
		// saves memory through an exec: migration.
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny",
		"-chardev", "socket,id=qmp,path=" + p.qmp() + ",server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
		// append: the log survives power cycles, as Nova's does.
		"-chardev", "file,id=serial0,path=" + p.console() + ",append=on",
		"-serial", "chardev:serial0",
		"-drive", "file=" + root + ",if=none,id=root,format=qcow2,discard=unmap",
	}
	// Direct kernel boot takes boot index 0 itself (linuxboot ROM).
	if spec.Kernel == nil {
		a = append(a, "-device", "virtio-blk-pci,drive=root,bootindex=0")
	} else {
		a = append(a, "-device", "virtio-blk-pci,drive=root")
	}
	if spec.Rescue != nil {
		a = append(a, "-drive", "file="+p.disk()+",if=none,id=disk,format=qcow2,discard=unmap", "-device", "virtio-blk-pci,drive=disk")
	}
	if d.accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if _, err := os.Stat(p.iso()); err == nil {
		a = append(a, "-drive", "file="+p.iso()+",if=none,id=config,format=raw,readonly=on",
			"-device", "virtio-blk-pci,drive=config")
	}
	for i, n := range spec.NICs {
		nd := fmt.Sprintf("tap,id=net%d,ifname=%s,script=no,downscript=no", i, n.Tap)
		// vhost-net moves the virtio-net data path into the kernel; it
		// needs KVM's ioeventfds and the vhost-net device.
		if d.accel == "kvm" && d.vhost {
			nd += ",vhost=on"
		}
		a = append(a, "-netdev", nd, "-device", fmt.Sprintf("virtio-net-pci,netdev=net%d,mac=%s", i, strings.ToLower(n.MAC)))
	}
	if spec.Kernel != nil {
		k, err := d.cache.Path(*spec.Kernel)
		if err != nil {
			return nil, err
		}
		a = append(a, "-kernel", k)
		if spec.Ramdisk != nil {
			r, err := d.cache.Path(*spec.Ramdisk)
			if err != nil {
				return nil, err
			}
			a = append(a, "-initrd", r)
		}
		if spec.Cmdline != "" {
			a = append(a, "-append", spec.Cmdline)
		}
	}
	return a, nil
}

// start launches QEMU for spec and waits until its monitor answers.
func (d *QEMU) start(ctx context.Context, spec Spec) error { return d.startWith(ctx, spec, false) }

// startWith launches QEMU for spec and waits until its monitor answers;
// with restore it loads the memory saved by Suspend and waits until the
// guest runs again. A cold start discards any saved memory.
func (d *QEMU) startWith(ctx context.Context, spec Spec, restore bool) error {
	p := d.paths(spec.ID)
	args, err := d.args(spec)
	if err != nil {
		return err
	}
	if restore {
		q, err := shellQuote(p.state())
		if err != nil {
			return err
		}
		args = append(args, "-incoming", "exec:cat "+q)
	} else {
		os.Remove(p.suspended())
		os.Remove(p.state())
	}
	os.Remove(p.qmp())
	if err := trimConsole(p.console(), d.cfg.MaxConsoleBytes); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.log(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Not CommandContext: the guest must outlive the request (and the agent).
	cmd := exec.Command(d.cfg.QEMU, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	pr, err := proc.Start(cmd, p.pid(), nil)
	if err != nil {
		return err
	}
	d.cfg.Log.Info("qemu started", "instance", spec.ID, "pid", pr.Pid, "accel", d.accel)
	deadline := time.Now().Add(15 * time.Second)
	if restore { // loading the guest's memory takes longer on a busy host
		deadline = time.Now().Add(5 * time.Minute)
	}
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var st qmp.Status
		err := qmp.Do(qctx, p.qmp(), func(c *qmp.Client) error { var err error; st, err = c.QueryStatus(qctx); return err })
		cancel()
		if err == nil && restore && st.Status == "inmigrate" {
			err = errors.New("still restoring")
		}
		if err == nil && restore && st.Status != "running" {
			// Suspend stopped the vCPUs before saving, and the saved run
			// state comes back with the memory: continue explicitly.
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = d.exec(cctx, spec.ID, "cont", nil)
			cancel()
		}
		if err == nil {
			if restore {
				os.Remove(p.suspended())
				os.Remove(p.state())
			}
			if err := renice(pr.Pid, d.cfg.GuestNice); err != nil {
				d.cfg.Log.Warn("lower guest priority", "instance", spec.ID, "err", err)
			}
			return nil
		}
		if !pr.Alive() || time.Now().After(deadline) || ctx.Err() != nil {
			_ = pr.Stop(context.WithoutCancel(ctx), time.Second)
			msg, _ := os.ReadFile(p.log())
			return fmt.Errorf("qemu: instance %s did not start: %v: %s", spec.ID, err, strings.TrimSpace(string(msg)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trimConsole keeps the console log from growing without bound across
// power cycles: QEMU appends to it while running, so it is cut (to its last
// max bytes) only before QEMU starts.
func trimConsole(path string, max int64) error {
	st, err := os.Stat(path)
	if err != nil || st.Size() <= 2*max {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	keep, err := tail(f, 0, max)
	f.Close()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(keep), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Info implements Driver.
func (d *QEMU) Info(ctx context.Context, id string) (Info, error) {
	if err := checkID(id); err != nil {
		return Info{}, err
	}
	return d.info(ctx, id)
}

func (d *QEMU) info(ctx context.Context, id string) (Info, error) {
	p := d.paths(id)
	info := Info{ID: id, Accel: d.accel}
	if _, err := os.Stat(p.spec()); err != nil {
		info.Status = NotFound
		return info, nil
	}
	pr, err := proc.Adopt(p.pid())
	if err != nil {
		info.Status = Shutoff
		if d.hasSavedState(id) {
			info.Status = Suspended
		}
		return info, nil
	}
	info.PID = pr.Pid
	var st qmp.Status
	err = qmp.Do(ctx, p.qmp(), func(c *qmp.Client) error { st, err = c.QueryStatus(ctx); return err })
	if err != nil {
		if !pr.Alive() {
			info.Status, info.PID = Shutoff, 0
			return info, nil
		}
		return info, fmt.Errorf("qemu: status of %s: %w", id, err)
	}
	info.QMPStatus = st.Status
	switch st.Status {
	case "running":
		info.Status = Running
	case "paused", "suspended", "postmigrate":
		info.Status = Paused
		if _, err := os.Stat(p.suspended()); err == nil {
			info.Status = Suspended
		}
	case "shutdown":
		info.Status = Shutoff
	case "internal-error", "io-error", "guest-panicked":
		info.Status = Crashed
	default: // prelaunch, inmigrate, restore-vm, debug, watchdog...
		info.Status = Paused
	}
	return info, nil
}

// List implements Driver.
func (d *QEMU) List(ctx context.Context) ([]Info, error) {
	ents, err := os.ReadDir(d.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if !e.IsDir() || !idRE.MatchString(e.Name()) {
			continue
		}
		in, err := d.info(ctx, e.Name())
		if err != nil {
			d.cfg.Log.Debug("guest state unknown", "instance", e.Name(), "err", err)
			in.Status = Unknown
		}
		if in.Status != NotFound {
			out = append(out, in)
		}
	}
	return out, nil
}

// running returns the adopted process of a running instance or a Conflict.
func (d *QEMU) running(id string) (*proc.Process, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p := d.paths(id)
	if _, err := os.Stat(p.spec()); err != nil {
		return nil, errs.NotFound("qemu: instance %s not found on this node", id)
	}
	pr, err := proc.Adopt(p.pid())
	if err != nil {
		return nil, errs.Conflict("qemu: instance %s is not running", id)
	}
	return pr, nil
}

// Destroy implements Driver.
func (d *QEMU) Destroy(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.lock(id)()
	p := d.paths(id)
	if pr, err := proc.Adopt(p.pid()); err == nil {
		if err := d.stop(ctx, id, pr, 0); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return err
	}
	d.cfg.Log.Info("qemu instance destroyed", "instance", id)
	return nil
}

// InUse returns the base images the node's overlays depend on, so a cache
// pruner keeps them.
func (d *QEMU) InUse(ctx context.Context) (map[string]bool, error) {
	ents, err := os.ReadDir(d.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, e := range ents {
		s, err := d.loadSpec(e.Name())
		if err != nil {
			continue
		}
		for _, img := range []*imagecache.Image{&s.Image, s.Kernel, s.Ramdisk} {
			if img == nil {
				continue
			}
			if path, err := d.cache.Path(*img); err == nil {
				used[path] = true
			}
		}
	}
	return used, nil
}
