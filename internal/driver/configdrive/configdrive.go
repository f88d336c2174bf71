// Package configdrive builds OpenStack config drives: an ISO 9660 image
// labelled config-2 holding openstack/<version>/meta_data.json,
// network_data.json, user_data and the EC2 files, made with genisoimage (or
// xorriso's mkisofs emulation, which takes the same flags) as Nova does.
package configdrive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/gureum/gureum/internal/driver/metadata"
)

// Label is the volume label cloud-init looks for.
const Label = "config-2"

// MaxUserData is Nova's limit on user_data (64 KiB, base64 decoded).
const MaxUserData = 64 << 10

// Builder writes config drive images.
type Builder struct {
	// Tool is the ISO maker: a genisoimage-compatible binary
	// ("genisoimage", or "xorrisofs").
	Tool string
}

// Build writes the config drive of in to iso (atomically).
func (b Builder) Build(ctx context.Context, iso string, in *metadata.Instance) error {
	if len(in.UserData) > MaxUserData {
		return fmt.Errorf("configdrive: user_data is %d bytes, over %d", len(in.UserData), MaxUserData)
	}
	return b.BuildFiles(ctx, iso, metadata.Files(in))
}

// BuildFiles writes an ISO holding files (paths relative to the root).
func (b Builder) BuildFiles(ctx context.Context, iso string, files map[string][]byte) error {
	tool := b.Tool
	if tool == "" {
		tool = "genisoimage"
	}
	dir, err := os.MkdirTemp(filepath.Dir(iso), ".configdrive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	for name, data := range files {
		clean := path.Clean("/" + name)
		if clean == "/" || strings.Contains(name, "..") {
			return fmt.Errorf("configdrive: bad path %q", name)
		}
		p := filepath.Join(root, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "out.iso")
	// Nova's flags: Rock Ridge + Joliet so long lowercase names survive.
	cmd := exec.CommandContext(ctx, tool, "-o", tmp, "-ldots", "-allow-lowercase", "-allow-multidot",
		"-l", "-publisher", "Gureum", "-quiet", "-J", "-r", "-V", Label, root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("configdrive: %s: %v: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	return os.Rename(tmp, iso)
}
