// Package netns creates, enters and deletes named network namespaces the way
// iproute2 does (a bind mount of the namespace under a run directory, by
// default /run/netns), so `ip netns exec <name>` works on what Gureum creates.
// The run directory comes from the caller so tests can use their own.
package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultDir is where iproute2 keeps named namespaces.
const DefaultDir = "/run/netns"

// Manager handles the named namespaces in one run directory.
type Manager struct {
	Dir string
}

// New returns a Manager for dir ("" means DefaultDir).
func New(dir string) *Manager {
	if dir == "" {
		dir = DefaultDir
	}
	return &Manager{Dir: dir}
}

// Path is the bind-mount file of the namespace called name.
func (m *Manager) Path(name string) string { return filepath.Join(m.Dir, name) }

func validName(name string) error {
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("netns: invalid namespace name %q", name)
	}
	return nil
}

// Exists reports whether a namespace called name is mounted.
func (m *Manager) Exists(name string) bool {
	if validName(name) != nil {
		return false
	}
	return isNsfs(m.Path(name))
}

func isNsfs(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// Ensure creates the namespace unless it already exists. It reports whether
// it created it, so a caller using revert only undoes its own work.
func (m *Manager) Ensure(ctx context.Context, name string) (created bool, err error) {
	if err := validName(name); err != nil {
		return false, err
	}
	if m.Exists(name) {
		return false, nil
	}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return false, err
	}
	path := m.Path(name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return false, err
	}
	f.Close()

	// unshare(CLONE_NEWNET) changes only the calling thread: do it on a
	// locked thread that is then thrown away (never returned to the Go
	// scheduler in the new namespace).
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocking on purpose: the thread exits with the goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return false, fmt.Errorf("netns %s: %w", name, err)
	}
	// A fresh namespace has its loopback down; services in it (dnsmasq,
	// the metadata server) expect it up.
	if err := m.Do(name, func() error { return setLoUp() }); err != nil {
		_ = m.Delete(ctx, name)
		return false, err
	}
	return true, nil
}

// Delete unmounts and removes the namespace; a missing one is not an error.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	path := m.Path(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// List returns the names of the namespaces in the run directory that start
// with prefix (so a reconciler only looks at its own).
func (m *Manager) List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(m.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && isNsfs(m.Path(e.Name())) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Do runs fn on an OS thread switched into the namespace. Sockets opened by
// fn stay in the namespace after Do returns; goroutines started by fn do not
// run in it. If the thread cannot be switched back it is discarded.
func (m *Manager) Do(name string, fn func() error) error {
	if err := validName(name); err != nil {
		return err
	}
	target, err := unix.Open(m.Path(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer unix.Close(target)

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		} // else: keep the thread locked so it dies with this goroutine.
		errc <- ferr
	}()
	return <-errc
}

// Start starts cmd to start inside the namespace: it is started
// from a thread switched into it, so the child inherits the namespace. Use
// Start (not cmd.Start) to launch it.
func (m *Manager) Start(name string, cmd *exec.Cmd) error {
	return m.Do(name, cmd.Start)
}

// Run runs cmd to completion inside the namespace.
func (m *Manager) Run(ctx context.Context, name string, cmd *exec.Cmd) error {
	if err := m.Start(name, cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// setLoUp brings the loopback up in the calling thread's namespace (the
// netlink package opens a fresh socket per call, in that namespace).
func setLoUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netns: lo: %w", err)
	}
	return netlink.LinkSetUp(lo)
}
