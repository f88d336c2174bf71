// Package proc starts long-lived helper processes (qemu, dnsmasq) detached
// from the caller, records them in pidfiles, and re-adopts them after the
// caller restarts: a pidfile holds the PID and the process start time, so a
// recycled PID is never mistaken for our process.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotRunning means the pidfile is missing or its process is gone.
var ErrNotRunning = errors.New("process not running")

// Process is a started or adopted process.
type Process struct {
	Pid       int
	StartTime uint64 // clock ticks since boot, from /proc/<pid>/stat
	PIDFile   string
	exited    chan struct{} // closed when our own child is reaped; nil if adopted
}

// Start starts cmd in its own session (so signals aimed at the caller's
// process group do not reach it and it outlives the caller), using start
// to launch it (cmd.Start, or a namespace's Start) when not nil, and writes
// pidfile. The child is reaped in the background.
func Start(cmd *exec.Cmd, pidfile string, start func(*exec.Cmd) error) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &Process{Pid: cmd.Process.Pid, PIDFile: pidfile, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	st, err := startTime(p.Pid)
	if err == nil {
		p.StartTime = st
		err = writePidfile(pidfile, p.Pid, st)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("pidfile %s: %w", pidfile, err)
	}
	return p, nil
}

func writePidfile(path string, pid int, st uint64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pid, st), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Adopt reads pidfile and returns its process if it is still the same one
// running. It returns ErrNotRunning (and removes a stale pidfile) otherwise.
func Adopt(pidfile string) (*Process, error) {
	b, err := os.ReadFile(pidfile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		os.Remove(pidfile)
		return nil, ErrNotRunning
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		os.Remove(pidfile)
		return nil, ErrNotRunning
	}
	var want uint64
	if len(f) > 1 {
		want, _ = strconv.ParseUint(f[1], 10, 64)
	}
	p := &Process{Pid: pid, StartTime: want, PIDFile: pidfile}
	if !p.Alive() {
		os.Remove(pidfile)
		return nil, ErrNotRunning
	}
	return p, nil
}

// Alive reports whether the process still runs (a zombie does not count).
func (p *Process) Alive() bool {
	if p == nil {
		return false
	}
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
		}
	}
	st, state, err := stat(p.Pid)
	if err != nil || state == "Z" || state == "X" {
		return false
	}
	return p.StartTime == 0 || st == p.StartTime
}

// Signal sends sig to the process if it is still ours.
func (p *Process) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return ErrNotRunning
	}
	return syscall.Kill(p.Pid, sig)
}

// Wait blocks until the process is gone or ctx ends.
func (p *Process) Wait(ctx context.Context) error {
	if p.exited != nil {
		select {
		case <-p.exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.Alive() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs; it removes the
// pidfile. Stopping a process that is already gone is not an error.
func (p *Process) Stop(ctx context.Context, grace time.Duration) error {
	if p == nil {
		return nil
	}
	if p.Alive() {
		_ = syscall.Kill(p.Pid, syscall.SIGTERM)
		wctx, cancel := context.WithTimeout(ctx, grace)
		err := p.Wait(wctx)
		cancel()
		if err != nil && p.Alive() {
			_ = syscall.Kill(p.Pid, syscall.SIGKILL)
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err = p.Wait(kctx)
			cancel()
			if err != nil {
				return fmt.Errorf("process %d did not exit after SIGKILL", p.Pid)
			}
		}
	}
	if p.PIDFile != "" {
		if err := os.Remove(p.PIDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func startTime(pid int) (uint64, error) {
	st, _, err := stat(pid)
	return st, err
}

// stat returns field 22 (starttime) and field 3 (state) of /proc/<pid>/stat.
func stat(pid int) (uint64, string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", err
	}
	// The command name (field 2) may contain spaces: fields restart after
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, "", fmt.Errorf("bad /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, f[0], err
}
