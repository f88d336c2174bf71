package computeapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/testenv"
)

// fake runs the in-process agent on the fake driver with a small,
// fixed inventory so placement is exercised deterministically.
func fake(vcpus, memMB, diskGB int) testenv.Option {
	return func(c *config.Config) {
		c.Compute.Driver = "fake"
		c.Compute.VCPUs, c.Compute.MemoryMB, c.Compute.DiskGB = vcpus, memMB, diskGB
		c.Compute.CPUAllocationRatio, c.Compute.RAMAllocationRatio, c.Compute.DiskAllocationRatio = 1, 1, 1
		c.Compute.TaskTimeout = 10 * time.Second
	}
}

func start(t *testing.T, opts ...testenv.Option) *testenv.Server {
	t.Helper()
	if len(opts) == 0 {
		opts = append(opts, fake(64, 65536, 1000))
	}
	s := testenv.StartServer(t, opts...)
	for _, id := range []string{testImage, otherImage} {
		uploadImage(t, s, id)
	}
	return s
}

// uploadImage puts a small public raw image with a fixed ID into the
// server's image service.
func uploadImage(t *testing.T, s *testenv.Server, id string) {
	t.Helper()
	svc := s.App.Image
	c := image.Caller{Project: "images", User: "test", Admin: true}
	if _, err := svc.Create(context.Background(), c, &image.Image{ID: id, Name: "test-" + id[:4], Visibility: image.Public, DiskFormat: "raw", ContainerFormat: "bare"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Upload(context.Background(), id, strings.NewReader(strings.Repeat("x", 4096)), ""); err != nil {
		t.Fatal(err)
	}
}

func computeClient(t *testing.T, s *testenv.Server, pc *gophercloud.ProviderClient, microversion string) *gophercloud.ServiceClient {
	t.Helper()
	sc := s.ServiceClient(t, pc, "compute", "")
	sc.Microversion = microversion
	return sc
}

// startMember starts a server on the fake driver (as start does) and
// logs in prefix-alice, a member of the new project prefix-p; it returns
// the server, her provider client and her compute (2.38) and network
// clients.
func startMember(t *testing.T, prefix string) (s *testenv.Server, pc *gophercloud.ProviderClient, sc, nc *gophercloud.ServiceClient) {
	t.Helper()
	s = start(t)
	pc = s.LoginProject(t, s.CreateProjectUser(t, prefix+"-p", prefix+"-alice", "member"))
	return s, pc, computeClient(t, s, pc, "2.38"), s.ServiceClient(t, pc, "network", "v2.0")
}

const (
	testImage  = "2a8a5b5e-7d5a-4bde-9d8e-6b5d7d0c2a11"
	otherImage = "6b0f9d2e-1c1e-4c55-8a0d-2f1a1c3e9b77"
)

// waitStatus polls a server until it reaches status (or fails the test).
func waitStatus(t *testing.T, sc *gophercloud.ServiceClient, id, status string) *servers.Server {
	t.Helper()
	var last *servers.Server
	testenv.Eventually(t, 20*time.Second, "server "+id+" to become "+status, func() bool {
		sv, err := servers.Get(context.Background(), sc, id).Extract()
		if err != nil {
			t.Fatalf("get server: %v", err)
		}
		last = sv
		if sv.Status == "ERROR" && status != "ERROR" {
			t.Fatalf("server %s went ERROR: %+v", id, sv.Fault)
		}
		return sv.Status == status
	})
	return last
}
