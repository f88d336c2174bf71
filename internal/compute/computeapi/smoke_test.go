package computeapi_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

func TestSmokeCreateServer(t *testing.T) {
	t.Parallel()
	s := start(t)
	sc := computeClient(t, s, s.Admin(t), "2.1")
	sv, err := servers.Create(context.Background(), sc, servers.CreateOpts{Name: "smoke", ImageRef: testImage, FlavorRef: "1"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, sc, sv.ID, "ACTIVE")
	t.Logf("%+v", got)
}
