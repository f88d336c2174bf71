package metadata_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gureum/gureum/internal/driver/metadata"
	"github.com/gureum/gureum/internal/platform/errs"
)

type src map[netip.Addr]*metadata.Instance

func (s src) InstanceByIP(ctx context.Context, networkID string, ip netip.Addr) (*metadata.Instance, error) {
	if networkID != "net1" {
		return nil, errs.NotFound("wrong network")
	}
	if in, ok := s[ip]; ok {
		return in, nil
	}
	return nil, errs.NotFound("none")
}

var inst = &metadata.Instance{
	UUID: "83679162-1378-4288-a2d4-70e13ec132aa", Name: "test", Hostname: "test", ProjectID: "p1",
	AvailabilityZone: "nova", LaunchIndex: 0, InstanceType: "m1.tiny", LocalIPv4: "10.0.0.5",
	Meta:     map[string]string{"role": "web"},
	Keys:     []metadata.Key{{Name: "mykey", Data: "ssh-ed25519 AAAA test@host"}},
	UserData: []byte("#cloud-config\n"),
	Network: metadata.NetworkData{
		Links:    []metadata.Link{{ID: "tap0", Type: "bridge", EthernetMACAddress: "fa:16:3e:00:00:01", MTU: 1450, VifID: "port1"}},
		Networks: []metadata.Network{{ID: "network0", Type: "ipv4_dhcp", Link: "tap0", NetworkID: "net1"}},
	},
}

func get(t *testing.T, h http.Handler, from, path string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://169.254.169.254"+path, nil)
	r.RemoteAddr = from + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestHandlerPaths(t *testing.T) {
	t.Parallel()
	h := &metadata.Handler{Source: src{netip.MustParseAddr("10.0.0.5"): inst}, NetworkID: "net1"}
	const me = "10.0.0.5"
	for _, c := range []struct {
		path, want string
		code       int
	}{
		{"/openstack", "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n2020-10-14\nlatest", 200},
		{"/openstack/latest/", "meta_data.json\nnetwork_data.json\nuser_data\nvendor_data.json\nvendor_data2.json", 200},
		{"/openstack/latest/user_data", "#cloud-config\n", 200},
		{"/openstack/latest/vendor_data.json", "{}", 200},
		{"/openstack/1999-01-01/meta_data.json", "", 404},
		{"/latest/meta-data/public-keys/", "0=mykey", 200},
		{"/latest/meta-data/public-keys/0/", "openssh-key", 200},
		{"/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAA test@host", 200},
		{"/latest/meta-data/public-keys/0=mykey/openssh-key", "ssh-ed25519 AAAA test@host", 200},
		{"/latest/meta-data/instance-id", inst.UUID, 200},
		{"/latest/meta-data/local-ipv4", "10.0.0.5", 200},
		{"/latest/meta-data/placement/availability-zone", "nova", 200},
		{"/2009-04-04/meta-data/hostname", "test", 200},
		{"/latest/user-data", "#cloud-config\n", 200},
		{"/latest/meta-data/public-keys/0/_name", "", 404},
		{"/latest/meta-data/nope", "", 404},
	} {
		code, body := get(t, h, me, c.path)
		if code != c.code || (c.want != "" && body != c.want) {
			t.Errorf("GET %s = %d %q, want %d %q", c.path, code, body, c.code, c.want)
		}
	}
	code, body := get(t, h, me, "/latest/meta-data/")
	if code != 200 || !contains(body, "public-keys/") || !contains(body, "placement/") || !contains(body, "instance-id") {
		t.Errorf("meta-data listing: %d %q", code, body)
	}

	// meta_data.json has Nova's shape.
	_, body = get(t, h, me, "/openstack/latest/meta_data.json")
	var md map[string]any
	if err := json.Unmarshal([]byte(body), &md); err != nil {
		t.Fatal(err)
	}
	if md["uuid"] != inst.UUID || md["public_keys"].(map[string]any)["mykey"] != "ssh-ed25519 AAAA test@host" ||
		md["meta"].(map[string]any)["role"] != "web" || md["launch_index"].(float64) != 0 {
		t.Errorf("meta_data.json = %s", body)
	}
	keys := md["keys"].([]any)[0].(map[string]any)
	if keys["type"] != "ssh" || keys["name"] != "mykey" {
		t.Errorf("keys = %v", keys)
	}
	_, body = get(t, h, me, "/openstack/latest/network_data.json")
	const wantND = `{"links":[{"id":"tap0","type":"bridge","ethernet_mac_address":"fa:16:3e:00:00:01","mtu":1450,"vif_id":"port1"}],"networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap0","routes":[],"network_id":"net1"}],"services":[]}`
	if body != wantND {
		t.Errorf("network_data.json = %s\nwant %s", body, wantND)
	}
}

// Another address on the network (another project's server, or nobody)
// learns nothing.
func TestHandlerScopedToCaller(t *testing.T) {
	t.Parallel()
	h := &metadata.Handler{Source: src{netip.MustParseAddr("10.0.0.5"): inst}, NetworkID: "net1"}
	for _, p := range []string{"/openstack/latest/meta_data.json", "/latest/meta-data/public-keys/0/openssh-key", "/latest/user-data"} {
		if code, body := get(t, h, "10.0.0.6", p); code != 404 || contains(body, "ssh-ed25519") {
			t.Errorf("GET %s from a stranger = %d %q", p, code, body)
		}
	}
	other := &metadata.Handler{Source: src{netip.MustParseAddr("10.0.0.5"): inst}, NetworkID: "net2"}
	if code, _ := get(t, other, "10.0.0.5", "/openstack/latest/meta_data.json"); code != 404 {
		t.Errorf("same IP on another network = %d, want 404", code)
	}
	r := httptest.NewRequest("POST", "http://169.254.169.254/openstack/latest/meta_data.json", nil)
	r.RemoteAddr = "10.0.0.5:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 405 {
		t.Errorf("POST = %d, want 405", w.Code)
	}
}

func TestFilesWithoutUserData(t *testing.T) {
	t.Parallel()
	in := *inst
	in.UserData = nil
	f := metadata.Files(&in)
	if _, ok := f["openstack/latest/user_data"]; ok {
		t.Error("user_data present without user data")
	}
	for _, p := range []string{"openstack/latest/meta_data.json", "openstack/latest/network_data.json", "openstack/2012-08-10/meta_data.json", "ec2/latest/meta-data.json"} {
		if _, ok := f[p]; !ok {
			t.Errorf("missing %s", p)
		}
	}
	if _, ok := f["openstack/2012-08-10/network_data.json"]; ok {
		t.Error("network_data.json in a version before 2015-10-15")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
