package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLayering(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gureum.yaml")
	if err := os.WriteFile(file, []byte("listen: 0.0.0.0:9000\nidentity:\n  token_expiration: 2h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	c.LoadEnv(func(k string) string {
		if k == "GUREUM_DATA_DIR" {
			return dir
		}
		return ""
	})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.Identity.TokenExpiration != 2*time.Hour || c.DataDir != dir {
		t.Fatalf("layering: %+v", c)
	}
	if c.AdvertiseURL != "http://127.0.0.1:9000" {
		t.Fatalf("advertise url %q", c.AdvertiseURL)
	}
}

func TestValidateRejects(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"listen":   func(c *Config) { c.Listen = "nope" },
		"database": func(c *Config) { c.Database = "mysql://x" },
		"bcrypt":   func(c *Config) { c.Identity.BcryptCost = 2 },
		"mtu":      func(c *Config) { c.Network.UnderlayMTU = 100 },
		"url":      func(c *Config) { c.AdvertiseURL = "ftp://x" },
	} {
		c := Default()
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "invalid configuration") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnknownKeyInFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "g.yaml")
	_ = os.WriteFile(file, []byte("listn: x\n"), 0o600)
	c := Default()
	if err := c.LoadFile(file); err == nil {
		t.Fatal("unknown key accepted")
	}
}
