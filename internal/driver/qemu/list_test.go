package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestListReportsUnansweringGuest: a guest whose monitor does not answer
// (QEMU still starting, or busy) is listed as Unknown; it must not make
// List fail for every other guest on the node.
func TestListReportsUnansweringGuest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := New(Config{StateDir: filepath.Join(dir, "i"), CacheDir: filepath.Join(dir, "c"), Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	// A live process stands in for a QEMU whose QMP socket is not up yet.
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	const busy, off = "0b7e1a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "1c8f2b63-4d5e-4f60-9bac-1d2e3f4a5b6c"
	for _, id := range []string{busy, off} {
		p := d.paths(id)
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(p.spec(), Spec{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(d.paths(busy).pid(), []byte(strconv.Itoa(sleep.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	status := map[string]Status{}
	for _, in := range got {
		status[in.ID] = in.Status
	}
	if status[busy] != Unknown || status[off] != Shutoff || len(got) != 2 {
		t.Fatalf("List = %+v, want %s unknown and %s shutoff", got, busy, off)
	}
}

// TestReniceEveryThread: the nice value reaches each thread of the
// process, not only its main thread (Linux keeps it per thread). The
// process is this test binary run again: a Go program has several threads,
// as QEMU has.
func TestReniceEveryThread(t *testing.T) {
	t.Parallel()
	child := exec.Command(os.Args[0], "-test.run=^TestHelperProcessSleeps$")
	child.Env = append(os.Environ(), "GUREUM_HELPER_SLEEP=1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	pid := child.Process.Pid
	var nices map[int]int
	for i := 0; i < 200; i++ { // until the runtime has started its threads
		if nices, _ = threadNices(pid); len(nices) >= 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(nices) < 2 {
		t.Fatalf("helper has %d threads", len(nices))
	}
	if err := renice(pid, 7); err != nil {
		t.Fatal(err)
	}
	nices, err := threadNices(pid)
	if err != nil {
		t.Fatal(err)
	}
	for tid, n := range nices {
		if n != 7 {
			t.Fatalf("thread %d nice %d, want 7 (all: %v)", tid, n, nices)
		}
	}
	if err := renice(pid, 0); err != nil {
		t.Fatal("renice 0 must be a no-op:", err)
	}
}

func TestHelperProcessSleeps(t *testing.T) {
	if os.Getenv("GUREUM_HELPER_SLEEP") == "" {
		t.Skip("helper process for TestReniceEveryThread")
	}
	time.Sleep(time.Minute)
}

// threadNices reads each thread's nice value from /proc.
func threadNices(pid int) (map[int]int, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		b, err := os.ReadFile(dir + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// nice is field 19: the 17th after the parenthesised command.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		n, _ := strconv.Atoi(f[16])
		out[tid] = n
	}
	return out, nil
}
