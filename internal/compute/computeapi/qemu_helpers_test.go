package computeapi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/testenv"
)

// qemuEnv is a whole server with the QEMU driver, the tiny guest image
// and an SSH key pair, for the root tests that boot real guests.
type qemuEnv struct {
	s       *testenv.Server
	imageID string
	sc, nc  *gophercloud.ServiceClient // compute (admin), network (admin)
	third   int                        // second octet of the test's 10.x.y.0/24 subnets
	key     string                     // private key file; its public half is the key pair keyName
	keyName string
}

// startQEMU skips without root or the binaries, then starts a server with
// the QEMU driver on node nodePrefix-<pid> (each test its own, so tests
// never share guests), uploads the tiny image and registers an SSH key
// pair named keyName. thirdOffset keeps each test's subnets apart.
func startQEMU(t *testing.T, nodePrefix, microversion string, thirdOffset int, keyName string) *qemuEnv {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "qemu-system-x86_64", "qemu-img", "dnsmasq", "genisoimage", "ip", "ssh", "ssh-keygen")
	s := testenv.StartServer(t, func(c *config.Config) {
		c.Compute.Driver = "qemu"
		c.Compute.ShutdownTimeout = 3 * time.Second
		c.Compute.TaskTimeout = 3 * time.Minute
		c.Compute.NodeName = fmt.Sprintf("%s-%d", nodePrefix, os.Getpid())
	})
	t.Cleanup(func() { reapServers(t, s) })
	e := &qemuEnv{s: s, imageID: tinyImages(t, s), third: 64 + (os.Getpid()+thirdOffset)%128, keyName: keyName}
	adminPC := s.Admin(t)
	e.sc = computeClient(t, s, adminPC, microversion)
	e.nc = s.ServiceClient(t, adminPC, "network", "v2.0")
	e.key = filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", e.key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(e.key + ".pub")
	if _, err := keypairs.Create(ctx, e.sc, keypairs.CreateOpts{Name: keyName, PublicKey: strings.TrimSpace(string(pub))}).Extract(); err != nil {
		t.Fatal(err)
	}
	return e
}

// network creates a tenant network (VXLAN by default) with the subnet
// 10.<third>.<octet>.0/24, gateway .1.
func (e *qemuEnv) network(t *testing.T, name string, octet int, dns ...string) *networks.Network {
	t.Helper()
	n, err := networks.Create(ctx, e.nc, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf("10.%d.%d.1", e.third, octet)
	if _, err := subnets.Create(ctx, e.nc, subnets.CreateOpts{NetworkID: n.ID, CIDR: fmt.Sprintf("10.%d.%d.0/24", e.third, octet), IPVersion: gophercloud.IPv4,
		GatewayIP: &gw, DNSNameservers: dns}).Extract(); err != nil {
		t.Fatal(err)
	}
	return n
}

// boot creates a server of the tiny image (flavor 1) with the key pair on
// net and waits for ACTIVE; it returns the server's ID and fixed IP.
func (e *qemuEnv) boot(t *testing.T, name string, net *networks.Network) (id, ip string) {
	t.Helper()
	created, err := servers.Create(ctx, e.sc, keypairs.CreateOptsExt{CreateOptsBuilder: servers.CreateOpts{Name: name, ImageRef: e.imageID, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, KeyName: e.keyName}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	sv := waitStatusLong(t, e.sc, created.ID, "ACTIVE")
	return created.ID, sv.Addresses[net.Name].([]any)[0].(map[string]any)["addr"].(string)
}

// ssh runs cmd as root in the guest at ip over SSH from net's DHCP
// namespace and returns its output, trimmed.
func (e *qemuEnv) ssh(netID, ip, cmd string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", "qdhcp-"+netID, "ssh", "-i", e.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@"+ip, cmd).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
