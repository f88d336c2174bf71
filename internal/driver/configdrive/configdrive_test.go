package configdrive_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/driver/configdrive"
	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/linux/linuxtest"
)

func TestBuildISO(t *testing.T) {
	linuxtest.RequireBinary(t, "genisoimage", "isoinfo")
	t.Parallel()
	iso := filepath.Join(t.TempDir(), "config.iso")
	in := &metadata.Instance{UUID: "u1", Hostname: "h", Keys: []metadata.Key{{Name: "k", Data: "ssh-ed25519 AAAA x"}}, UserData: []byte("#!/bin/sh\n")}
	if err := (configdrive.Builder{}).Build(context.Background(), iso, in); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-d", "-i", iso).Output()
	if err != nil || !strings.Contains(string(out), "Volume id: config-2") {
		t.Fatalf("isoinfo -d: %s %v", out, err)
	}
	for path, want := range map[string]string{
		"/openstack/latest/meta_data.json":    `"public_keys":{"k":"ssh-ed25519 AAAA x"}`,
		"/openstack/latest/user_data":         "#!/bin/sh",
		"/openstack/latest/network_data.json": `"links":[]`,
		"/ec2/latest/meta-data.json":          `"instance-id":"u1"`,
	} {
		b, err := exec.Command("isoinfo", "-R", "-i", iso, "-x", path).Output()
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s = %q, %v; want it to contain %q", path, b, err, want)
		}
	}
}

func TestUserDataLimit(t *testing.T) {
	t.Parallel()
	in := &metadata.Instance{UUID: "u1", UserData: make([]byte, configdrive.MaxUserData+1)}
	if err := (configdrive.Builder{}).Build(context.Background(), filepath.Join(t.TempDir(), "x.iso"), in); err == nil {
		t.Fatal("oversized user_data accepted")
	}
}
