package dnsmasq_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gureum/gureum/internal/driver/dnsmasq"
	"github.com/gureum/gureum/internal/driver/linuxbridge"
	"github.com/gureum/gureum/internal/linux/netns"
)

// host is a dnsmasq driver on a fresh state directory (tmp/dhcp) with its
// own namespace directory (tmp/netns) and the gr- bridge driver.
type host struct {
	tmp     string
	nsm     *netns.Manager
	bridges *linuxbridge.Linux
	d       *dnsmasq.Dnsmasq
}

// newHost makes the test's temporary directory traversable (dnsmasq drops
// root and re-reads its files as its own user) and starts a driver that
// runs bin ("" for dnsmasq on PATH).
func newHost(tb testing.TB, bin string) *host {
	tb.Helper()
	tmp := tb.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	h := &host{tmp: tmp, nsm: netns.New(filepath.Join(tmp, "netns")), bridges: linuxbridge.New("gr-")}
	d, err := dnsmasq.New(dnsmasq.Config{Dnsmasq: bin, StateDir: filepath.Join(tmp, "dhcp"), Netns: h.nsm, Names: h.bridges.Names})
	if err != nil {
		tb.Fatal(err)
	}
	h.d = d
	return h
}
