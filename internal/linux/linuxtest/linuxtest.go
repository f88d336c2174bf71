// Package linuxtest holds the capability skips of data-plane tests. It does
// not import internal/testenv on purpose: that package pulls in the whole
// application, and data-plane tests must build while any service changes.
package linuxtest

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, bridges, taps): run the tests as root, as CI does")
	}
}

// RequireBinary skips the test unless every binary is on PATH (or an
// absolute path that exists).
func RequireBinary(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s (scripts/deps.sh test installs it)", n)
		}
	}
}

var seq atomic.Int64

// Name returns a short name unique to this test process, prefixed with
// prefix, that fits the 15-byte interface name limit when prefix is at
// most 5 bytes.
func Name(prefix string) string {
	return fmt.Sprintf("%s%05x%04x", prefix, os.Getpid()&0xfffff, seq.Add(1)&0xffff)
}
