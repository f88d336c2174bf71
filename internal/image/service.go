package image

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Glance's default per-image limits (image_member_quota, image_tag_quota,
// image_property_quota).
const (
	MaxMembers    = 128
	MaxTags       = 128
	MaxProperties = 128
)

// Config configures the service.
type Config struct {
	// Dir holds the image files.
	Dir string
	// QuotaImages and QuotaBytes are per-project limits (0: none).
	QuotaImages int
	QuotaBytes  int64
	// MaxImageSize is glance's image_size_cap.
	MaxImageSize int64
	// MaxVirtualSize refuses images claiming larger disks (0: none).
	MaxVirtualSize int64
	// QemuImg is the qemu-img binary; "" looks it up on PATH, "-" disables.
	QemuImg string
	// HashAlgo is os_hash_algo ("" means sha512, glance's default).
	HashAlgo string
}

// Caller is who acts, as the service needs to know it.
type Caller struct {
	Project string
	User    string
	Admin   bool
}

// Service is the image service.
type Service struct {
	store Store
	files *Files
	insp  *Inspector
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// New opens the file store and recovers from an interrupted run: images
// left saving go back to queued, temporary files and data no image owns
// are removed.
func New(ctx context.Context, st Store, cfg Config, log *slog.Logger) (*Service, error) {
	files, err := NewFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.HashAlgo != "" {
		if err := files.SetHashAlgo(cfg.HashAlgo); err != nil {
			return nil, err
		}
	}
	qemu := cfg.QemuImg
	switch qemu {
	case "-":
		qemu = ""
	case "":
		qemu, _ = exec.LookPath("qemu-img")
	}
	if cfg.MaxImageSize <= 0 {
		cfg.MaxImageSize = 1 << 40
	}
	s := &Service{store: st, files: files, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) },
		insp: &Inspector{QemuImg: qemu, MaxVirtualSize: cfg.MaxVirtualSize}}
	if err := s.recover(ctx); err != nil {
		return nil, fmt.Errorf("image recovery: %w", err)
	}
	return s, nil
}

func (s *Service) recover(ctx context.Context) error {
	n, err := s.store.ResetInterrupted(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Warn("image uploads interrupted by a restart were reset", "images", n)
	}
	data, staged, err := s.files.DataIDs()
	if err != nil {
		return err
	}
	for _, id := range data {
		if !ids.ValidUUID(id) {
			continue // not ours: left alone
		}
		img, err := s.store.GetImage(ctx, id)
		if errs.Is(err, errs.KindNotFound) || (err == nil && !img.HasData()) {
			s.log.Warn("removing image data no image owns", "image_id", id)
			_ = os.Remove(s.files.Path(id))
		}
	}
	for _, id := range staged {
		if !ids.ValidUUID(id) {
			continue
		}
		img, err := s.store.GetImage(ctx, id)
		if errs.Is(err, errs.KindNotFound) || (err == nil && img.Staged == nil) {
			_ = os.Remove(s.files.StagePath(id))
		}
	}
	return nil
}

// Files exposes the file store (benchmarks, tests).
func (s *Service) Files() *Files { return s.files }

// Limits returns the quota limits (0: none).
func (s *Service) Limits() (images int, bytes int64) { return s.cfg.QuotaImages, s.cfg.QuotaBytes }

// Usage returns a project's consumption.
func (s *Service) Usage(ctx context.Context, project string) (Usage, error) {
	return s.store.Usage(ctx, project)
}

func notFound(id string) error { return errs.NotFound("No image found with ID %s", id) }

// Get returns an image (visibility is the API's policy check).
func (s *Service) Get(ctx context.Context, id string) (*Image, error) {
	if !ids.ValidUUID(id) {
		return nil, notFound(id)
	}
	img, err := s.store.GetImage(ctx, id)
	if errs.Is(err, errs.KindNotFound) {
		return nil, notFound(id)
	}
	return img, err
}

// List lists images.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Image, error) {
	return s.store.ListImages(ctx, f)
}

// Create validates and stores a new image record.
func (s *Service) Create(ctx context.Context, c Caller, img *Image) (*Image, error) {
	if img.ID == "" {
		img.ID = ids.UUID()
	} else if !ids.ValidUUID(img.ID) {
		return nil, errs.BadRequest("id %s is not a valid UUID.", img.ID)
	}
	if img.Owner == "" {
		img.Owner = c.Project
	} else if img.Owner != c.Project && !c.Admin {
		return nil, errs.Forbidden("You are not permitted to create images owned by '%s'.", img.Owner)
	}
	if img.Owner == "" {
		// A system-scoped token has no project to own the image.
		return nil, errs.Forbidden("An image needs an owner: use a project-scoped token or set 'owner'.")
	}
	if img.Visibility == "" {
		img.Visibility = Shared
	}
	if err := validate(img); err != nil {
		return nil, err
	}
	img.Status = StatusQueued
	img.CreatedAt = s.now()
	img.UpdatedAt = img.CreatedAt
	if img.Tags == nil {
		img.Tags = []string{}
	}
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	if err := s.store.CreateImage(ctx, img, s.cfg.QuotaImages); err != nil {
		if errs.Is(err, errs.KindConflict) {
			return nil, errs.Conflict("Image with identifier %s already exists!", img.ID)
		}
		return nil, err
	}
	return img, nil
}

// validate checks the attributes any create or update leaves behind.
func validate(img *Image) error {
	if len(img.Name) > 255 {
		return errs.BadRequest("Provided object does not match schema 'image': '%s' is too long.", truncate(img.Name))
	}
	if !slices.Contains([]string{Public, Private, Shared, Community}, img.Visibility) {
		return errs.BadRequest("Invalid visibility value: %s", img.Visibility)
	}
	if img.DiskFormat != "" && !slices.Contains(DiskFormats, img.DiskFormat) {
		return errs.BadRequest("Invalid disk format '%s' for image.", img.DiskFormat)
	}
	if img.ContainerFormat != "" && !slices.Contains(ContainerFormats, img.ContainerFormat) {
		return errs.BadRequest("Invalid container format '%s' for image.", img.ContainerFormat)
	}
	if img.MinDisk < 0 || img.MinRAM < 0 {
		return errs.BadRequest("Cannot be a negative value.")
	}
	if len(img.Tags) > MaxTags {
		return errs.TooLarge("Maximum number of tags exceeded: %d > %d", len(img.Tags), MaxTags)
	}
	for _, t := range img.Tags {
		if len(t) > 255 || t == "" {
			return errs.BadRequest("Invalid tag: must be 1 to 255 characters.")
		}
	}
	if len(img.Properties) > MaxProperties {
		return errs.TooLarge("Maximum number of properties exceeded: %d > %d", len(img.Properties), MaxProperties)
	}
	for k, v := range img.Properties {
		if len(k) > 255 || k == "" || len(v) > 65535 {
			return errs.BadRequest("Invalid property %q: names are 1 to 255 characters, values up to 65535.", truncate(k))
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Update runs fn on the image in one transaction and validates the result.
func (s *Service) Update(ctx context.Context, id string, fn func(img *Image) error) (*Image, error) {
	img, err := s.store.UpdateImage(ctx, id, func(img *Image, _ func() (Usage, error)) error {
		if err := fn(img); err != nil {
			return err
		}
		if err := validate(img); err != nil {
			return err
		}
		img.UpdatedAt = s.now()
		return nil
	})
	if errs.Is(err, errs.KindNotFound) {
		return nil, notFound(id)
	}
	return img, err
}

// Delete removes an image and its data.
func (s *Service) Delete(ctx context.Context, img *Image) error {
	if img.Protected {
		return errs.Forbidden("Image %s is protected and cannot be deleted.", img.ID)
	}
	if err := s.store.DeleteImage(ctx, img.ID); err != nil {
		if errs.Is(err, errs.KindNotFound) {
			return notFound(img.ID)
		}
		return err
	}
	if err := s.files.Remove(img.ID); err != nil {
		// The record is gone; a leftover file is swept at the next start.
		s.log.ErrorContext(ctx, "removing image data", "image_id", img.ID, "err", err)
	}
	return nil
}

// SetActive deactivates (false) or reactivates (true) an image.
func (s *Service) SetActive(ctx context.Context, id string, active bool) (*Image, error) {
	return s.Update(ctx, id, func(img *Image) error {
		switch {
		case active && (img.Status == StatusActive || img.Status == StatusDeactivated):
			img.Status = StatusActive
		case !active && (img.Status == StatusActive || img.Status == StatusDeactivated):
			img.Status = StatusDeactivated
		default:
			verb := "deactivate"
			if active {
				verb = "reactivate"
			}
			return errs.BadRequest("Not allowed to %s image in status '%s'", verb, img.Status)
		}
		return nil
	})
}

// AddTag adds a tag (idempotent).
func (s *Service) AddTag(ctx context.Context, id, tag string) error {
	_, err := s.Update(ctx, id, func(img *Image) error {
		if !slices.Contains(img.Tags, tag) {
			img.Tags = append(img.Tags, tag)
		}
		return nil
	})
	return err
}

// DeleteTag removes a tag.
func (s *Service) DeleteTag(ctx context.Context, id, tag string) error {
	_, err := s.Update(ctx, id, func(img *Image) error {
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return errs.NotFound("Tag %s not found.", tag)
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		return nil
	})
	return err
}

// limit is how many bytes an upload for owner may bring.
func (s *Service) limit(ctx context.Context, owner string) (int64, error) {
	lim := s.cfg.MaxImageSize
	if s.cfg.QuotaBytes > 0 {
		u, err := s.store.Usage(ctx, owner)
		if err != nil {
			return 0, err
		}
		if left := s.cfg.QuotaBytes - u.Bytes; left < lim {
			lim = max(left, 0)
		}
	}
	return lim, nil
}

func (s *Service) quotaBytes(u Usage, add int64) error {
	if s.cfg.QuotaBytes > 0 && u.Bytes+add > s.cfg.QuotaBytes {
		return errs.OverQuota("Resource image_size_total is over limit of %d bytes due to current usage %d and delta %d.", s.cfg.QuotaBytes, u.Bytes, add)
	}
	return nil
}

// transition moves an image from one of the from statuses to to, or fails
// with glance's 409.
func (s *Service) transition(ctx context.Context, id, to string, check func(img *Image) error, from ...string) (*Image, error) {
	return s.Update(ctx, id, func(img *Image) error {
		if !slices.Contains(from, img.Status) {
			return errs.Conflict("Image status transition from '%s' to '%s' is not allowed.", img.Status, to)
		}
		if check != nil {
			if err := check(img); err != nil {
				return err
			}
		}
		img.Status = to
		return nil
	})
}

// revert puts an image back to queued after a failed upload or import. It
// runs on a fresh context: the request's may be what was cancelled.
func (s *Service) revert(id string, from string, mutate func(img *Image)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Update(ctx, id, func(img *Image) error {
		if img.Status != from {
			return nil
		}
		img.Status = StatusQueued
		if mutate != nil {
			mutate(img)
		}
		return nil
	})
	if err != nil && !errs.Is(err, errs.KindNotFound) {
		s.log.Error("reverting image status", "image_id", id, "err", err)
	}
}

func requireFormats(img *Image) error {
	if img.DiskFormat == "" || img.ContainerFormat == "" {
		return errs.BadRequest("Properties disk_format, container_format must be set prior to saving data.")
	}
	return nil
}

// Upload streams image data (PUT /file). contentMD5 is the request's
// Content-MD5 header, checked when present. On any failure the image is
// back to queued and nothing is left on disk.
func (s *Service) Upload(ctx context.Context, id string, r io.Reader, contentMD5 string) (*Image, error) {
	img, err := s.transition(ctx, id, StatusSaving, requireFormats, StatusQueued)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.revert(id, StatusSaving, nil)
		}
	}()
	lim, err := s.limit(ctx, img.Owner)
	if err != nil {
		return nil, err
	}
	tmp, err := s.files.Receive(ctx, id, r, lim)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Abort()
		}
	}()
	if err := checkMD5(contentMD5, tmp.Info.MD5); err != nil {
		return nil, err
	}
	ins, err := s.insp.Check(ctx, tmp.Path(), tmp.File(), tmp.Info.Size, img.DiskFormat, img.ContainerFormat)
	if err != nil {
		return nil, err
	}
	tmp.Info.VirtualSize, tmp.Info.Format = ins.VirtualSize, ins.Format
	// Rename first, then record: an active image always has its file. A
	// crash in between leaves a file the start-up sweep removes.
	if err := tmp.Commit(s.files.Path(id)); err != nil {
		return nil, errs.Internal(err)
	}
	committed = true
	info := tmp.Info
	img, err = s.store.UpdateImage(ctx, id, func(img *Image, usage func() (Usage, error)) error {
		if img.Status != StatusSaving {
			return errs.Conflict("Image status changed to '%s' during the upload.", img.Status)
		}
		u, err := usage()
		if err != nil {
			return err
		}
		if err := s.quotaBytes(u, info.Size); err != nil {
			return err
		}
		setData(img, info)
		img.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		_ = os.Remove(s.files.Path(id))
		if errs.Is(err, errs.KindNotFound) {
			return nil, &errs.Error{Kind: errs.KindGone, Message: fmt.Sprintf("Image %s could not be found after upload. The image may have been deleted during the upload.", id)}
		}
		return nil, err
	}
	ok = true
	return img, nil
}

func setData(img *Image, info DataInfo) {
	size := info.Size
	img.Size = &size
	img.VirtualSize = info.VirtualSize
	img.Checksum = info.MD5
	img.HashAlgo = info.HashAlgo
	img.HashValue = info.HashValue
	img.Status = StatusActive
}

// checkMD5 compares a Content-MD5 header (base64 per RFC 1864, or hex as
// some clients send) with the computed digest.
func checkMD5(header, got string) error {
	if header == "" {
		return nil
	}
	want := strings.ToLower(header)
	if b, err := base64.StdEncoding.DecodeString(header); err == nil && len(b) == 16 {
		want = hex.EncodeToString(b)
	}
	if want != got {
		return errs.BadRequest("Checksum verification failed: the data's md5 is %s, Content-MD5 said %s.", got, want)
	}
	return nil
}

// Stage streams data for a later glance-direct import (PUT /stage).
func (s *Service) Stage(ctx context.Context, id string, r io.Reader) error {
	img, err := s.transition(ctx, id, StatusUploading, nil, StatusQueued)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			s.revert(id, StatusUploading, func(img *Image) { img.Staged = nil })
		}
	}()
	lim, err := s.limit(ctx, img.Owner)
	if err != nil {
		return err
	}
	tmp, err := s.files.Receive(ctx, id, r, lim)
	if err != nil {
		return err
	}
	if err := tmp.Commit(s.files.StagePath(id)); err != nil {
		return errs.Internal(err)
	}
	info := tmp.Info
	_, err = s.store.UpdateImage(ctx, id, func(img *Image, usage func() (Usage, error)) error {
		if img.Status != StatusUploading {
			return errs.Conflict("Image status changed to '%s' during the upload.", img.Status)
		}
		u, err := usage()
		if err != nil {
			return err
		}
		if err := s.quotaBytes(u, info.Size); err != nil {
			return err
		}
		img.Staged = &info
		img.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		_ = os.Remove(s.files.StagePath(id))
		if errs.Is(err, errs.KindNotFound) {
			return notFound(id)
		}
		return err
	}
	ok = true
	return nil
}

// ImportMethods are the import methods offered.
var ImportMethods = []string{"glance-direct"}

// Import runs a glance-direct import of the staged data as a task. The
// work (a header inspection and a rename: the data was hashed while it was
// staged) is quick, so it is done before answering; a failure puts the
// image back to queued and records the reason in the task and in
// os_glance_failed_import.
func (s *Service) Import(ctx context.Context, c Caller, id, method, requestID string, req map[string]any) (*Task, error) {
	if !slices.Contains(ImportMethods, method) {
		return nil, errs.BadRequest("Import method %s is not supported; supported: %s.", method, strings.Join(ImportMethods, ", "))
	}
	img, err := s.Update(ctx, id, func(img *Image) error {
		if img.Status != StatusUploading || img.Staged == nil {
			return errs.Conflict("Image needs to be staged before 'glance-direct' method can be used")
		}
		if err := requireFormats(img); err != nil {
			return err
		}
		img.Status = StatusImporting
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	task := &Task{ID: ids.UUID(), Type: "api_image_import", Status: "processing", Owner: img.Owner, ImageID: id,
		Input: map[string]any{"image_id": id, "import_req": req, "backend": []string{StoreID}}, Result: map[string]any{},
		RequestID: requestID, UserID: c.User, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(48 * time.Hour)}
	if err := s.store.CreateTask(ctx, task); err != nil {
		s.revert(id, StatusImporting, nil)
		return nil, err
	}
	finish := func(err error) (*Task, error) {
		task.UpdatedAt = s.now()
		if err != nil {
			task.Status = "failure"
			task.Message = errs.From(err).Message
			s.revert(id, StatusImporting, func(img *Image) {
				img.Staged = nil
				img.Properties["os_glance_failed_import"] = StoreID
				delete(img.Properties, "os_glance_importing_to_stores")
			})
			_ = os.Remove(s.files.StagePath(id))
		} else {
			task.Status = "success"
			task.Result = map[string]any{"image_id": id}
		}
		if uerr := s.store.UpdateTask(context.WithoutCancel(ctx), task); uerr != nil {
			s.log.ErrorContext(ctx, "recording import task", "task_id", task.ID, "err", uerr)
		}
		return task, nil
	}
	info := *img.Staged
	stage := s.files.StagePath(id)
	f, err := os.Open(stage)
	if err != nil {
		return finish(errs.Internal(err))
	}
	ins, err := s.insp.Check(ctx, stage, f, info.Size, img.DiskFormat, img.ContainerFormat)
	f.Close()
	if err != nil {
		return finish(err)
	}
	info.VirtualSize, info.Format = ins.VirtualSize, ins.Format
	if err := s.files.Move(stage, s.files.Path(id)); err != nil {
		return finish(errs.Internal(err))
	}
	_, err = s.store.UpdateImage(ctx, id, func(img *Image, usage func() (Usage, error)) error {
		if img.Status != StatusImporting {
			return errs.Conflict("Image status changed to '%s' during the import.", img.Status)
		}
		img.Staged = nil // its bytes now count as the image's
		setData(img, info)
		delete(img.Properties, "os_glance_failed_import")
		delete(img.Properties, "os_glance_importing_to_stores")
		img.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		_ = os.Remove(s.files.Path(id))
		return finish(err)
	}
	return finish(nil)
}

// Open opens an image's data for reading. It returns (nil, img, nil) when
// the image has no data.
func (s *Service) Open(ctx context.Context, img *Image) (*os.File, error) {
	if !img.HasData() || (img.Status != StatusActive && img.Status != StatusDeactivated) {
		return nil, nil
	}
	f, err := os.Open(s.files.Path(img.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errs.NotFound("Image data for %s is missing from the store.", img.ID)
	}
	if err != nil {
		return nil, errs.Internal(err)
	}
	// Downloads read the whole file in order: a larger readahead keeps the
	// disk streaming while the download feeds the socket. Advisory only.
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	return f, nil
}

// Data is what the compute service needs to use an image as a
// copy-on-write base.
type Data struct {
	Path        string // the image file; read-only to its users
	DiskFormat  string
	Size        int64
	VirtualSize int64
	Checksum    string
}

// DataPath locates an active image's data file by ID, for the compute
// service, which checks the caller's access itself and must treat the file
// as read-only (qcow2 overlays with it as backing file, or a copy).
func (s *Service) DataPath(ctx context.Context, id string) (*Data, error) {
	img, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if img.Status != StatusActive || !img.HasData() {
		return nil, errs.Conflict("Image %s is not active (status %s).", id, img.Status)
	}
	p := s.files.Path(id)
	if _, err := os.Stat(p); err != nil {
		return nil, errs.Internal(err)
	}
	d := &Data{Path: p, DiskFormat: img.DiskFormat, Size: *img.Size, Checksum: img.Checksum}
	if img.VirtualSize != nil {
		d.VirtualSize = *img.VirtualSize
	}
	return d, nil
}

// Member returns the caller project's membership of an image, or nil.
func (s *Service) Member(ctx context.Context, imageID, project string) (*Member, error) {
	if project == "" {
		return nil, nil
	}
	m, err := s.store.GetMember(ctx, imageID, project)
	if errs.Is(err, errs.KindNotFound) {
		return nil, nil
	}
	return m, err
}

// Members lists an image's members.
func (s *Service) Members(ctx context.Context, imageID string) ([]*Member, error) {
	return s.store.ListMembers(ctx, imageID)
}

// AddMember shares a shared image with a project.
func (s *Service) AddMember(ctx context.Context, img *Image, memberID string) (*Member, error) {
	if img.Visibility != Shared {
		return nil, errs.Forbidden("Only shared images have members.")
	}
	if memberID == "" || len(memberID) > 255 {
		return nil, errs.BadRequest("Invalid member ID.")
	}
	now := s.now()
	m := &Member{ImageID: img.ID, MemberID: memberID, Status: MemberPending, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateMember(ctx, m, MaxMembers); err != nil {
		if errs.Is(err, errs.KindConflict) {
			return nil, errs.Conflict("Member %s already associated with image %s.", memberID, img.ID)
		}
		return nil, err
	}
	return m, nil
}

// SetMemberStatus accepts, rejects or resets a membership.
func (s *Service) SetMemberStatus(ctx context.Context, m *Member, status string) (*Member, error) {
	if !slices.Contains([]string{MemberPending, MemberAccepted, MemberRejected}, status) {
		return nil, errs.BadRequest("Invalid status: %s", status)
	}
	m.Status = status
	m.UpdatedAt = s.now()
	return m, s.store.UpdateMember(ctx, m)
}

// DeleteMember stops sharing with a project.
func (s *Service) DeleteMember(ctx context.Context, imageID, memberID string) error {
	return s.store.DeleteMember(ctx, imageID, memberID)
}

// Task returns a task.
func (s *Service) Task(ctx context.Context, id string) (*Task, error) {
	t, err := s.store.GetTask(ctx, id)
	if errs.Is(err, errs.KindNotFound) {
		return nil, errs.NotFound("Task with the given ID %s was not found.", id)
	}
	return t, err
}

// Tasks lists tasks of an owner ("" for all) or of one image.
func (s *Service) Tasks(ctx context.Context, owner, imageID string, limit int) ([]*Task, error) {
	return s.store.ListTasks(ctx, owner, imageID, limit)
}
