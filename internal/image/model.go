// Package image is Gureum's glance: image records, their sharing rules and
// quotas, and a file store that streams image data to disk in constant
// memory, hashes it on the way, inspects its format before accepting it and
// keeps it where the compute service can use it as a copy-on-write base.
package image

import (
	"context"
	"time"
)

// Image statuses (glance's state machine).
const (
	StatusQueued      = "queued"
	StatusSaving      = "saving"
	StatusUploading   = "uploading" // data staged for an import
	StatusImporting   = "importing"
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
	StatusKilled      = "killed"
)

// Visibilities.
const (
	Public    = "public"
	Private   = "private"
	Shared    = "shared"
	Community = "community"
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// StoreID is the one backend store's name, as listed by /v2/info/stores.
const StoreID = "file"

// HashAlgo is the os_hash_algo glance uses by default.
const HashAlgo = "sha512"

// HashAlgos are the os_hash_algo values the store can compute (glance's
// hashing_algorithm option).
var HashAlgos = []string{"sha256", "sha384", "sha512"}

// DiskFormats and ContainerFormats are glance's default allowed values.
var (
	DiskFormats      = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
	ContainerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
)

// Image is an image record. Nil pointers and empty strings are JSON nulls
// on the wire.
type Image struct {
	ID              string
	Name            string
	Status          string
	Visibility      string
	Owner           string // project ID
	DiskFormat      string
	ContainerFormat string
	Size            *int64
	VirtualSize     *int64
	Checksum        string // md5, hex
	HashAlgo        string
	HashValue       string
	MinDisk         int
	MinRAM          int
	Protected       bool
	Hidden          bool
	Tags            []string
	// Properties are the custom string properties (glance's "extra
	// properties"), including glance-managed os_glance_* ones.
	Properties map[string]string
	// Staged describes data put by PUT /stage and not imported yet.
	Staged    *DataInfo
	CreatedAt time.Time
	UpdatedAt time.Time
}

// HasData reports whether the image has data in the store.
func (i *Image) HasData() bool { return i.Size != nil && i.Checksum != "" }

// DataInfo is what was learnt while streaming data to disk.
type DataInfo struct {
	Size        int64
	MD5         string
	HashAlgo    string
	HashValue   string
	VirtualSize *int64
	Format      string // detected format
}

// Member is an image shared to a project.
type Member struct {
	ImageID   string
	MemberID  string // project ID
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Task is a glance task (image import runs as one).
type Task struct {
	ID        string
	Type      string
	Status    string // pending, processing, success, failure
	Owner     string
	ImageID   string
	Input     map[string]any
	Result    map[string]any
	Message   string
	RequestID string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Usage is a project's consumption counted against its quotas.
type Usage struct {
	Images    int
	Bytes     int64 // active data plus staged data
	Uploading int   // images in saving/uploading/importing
}

// TimeFilter is one created_at / updated_at comparison.
type TimeFilter struct {
	Op string // gt gte lt lte eq neq
	At time.Time
}

// SortKey is one ordering column.
type SortKey struct {
	Key  string
	Desc bool
}

// ListFilter selects images. The caller's visibility rules are expressed
// by Project/Admin/Visibility/MemberStatus, so the store can answer with
// one indexed query.
type ListFilter struct {
	// Project is the caller's project; Admin sees every image.
	Project string
	Admin   bool
	// Visibility is "" (the default view), "all" or one visibility.
	Visibility string
	// MemberStatus is accepted (default), pending, rejected or all.
	MemberStatus string

	IDs              []string
	Names            []string
	Statuses         []string
	Owner            string
	DiskFormats      []string
	ContainerFormats []string
	HashValues       []string
	Tags             []string // all must be present
	SizeMin, SizeMax *int64
	Hidden           *bool
	Protected        *bool
	CreatedAt        []TimeFilter
	UpdatedAt        []TimeFilter
	Properties       map[string]string

	Sort   []SortKey
	Limit  int
	Marker *Image // the last image of the previous page
}

// Store persists images. Implemented in internal/store.
type Store interface {
	// CreateImage inserts img unless the owner already has maxImages
	// images (0: no limit), which is an OverQuota error.
	CreateImage(ctx context.Context, img *Image, maxImages int) error
	GetImage(ctx context.Context, id string) (*Image, error)
	ListImages(ctx context.Context, f ListFilter) ([]*Image, error)
	// UpdateImage loads the image, calls fn and saves what fn changed, in
	// one transaction; usage reports the owner's consumption inside it.
	UpdateImage(ctx context.Context, id string, fn func(img *Image, usage func() (Usage, error)) error) (*Image, error)
	DeleteImage(ctx context.Context, id string) error
	Usage(ctx context.Context, project string) (Usage, error)
	// ResetInterrupted puts images left in transient states by a crash
	// back to where their data is (start-up recovery).
	ResetInterrupted(ctx context.Context) (int, error)

	GetMember(ctx context.Context, imageID, memberID string) (*Member, error)
	ListMembers(ctx context.Context, imageID string) ([]*Member, error)
	// CreateMember inserts m unless the image has maxMembers (0: none).
	CreateMember(ctx context.Context, m *Member, maxMembers int) error
	UpdateMember(ctx context.Context, m *Member) error
	DeleteMember(ctx context.Context, imageID, memberID string) error

	CreateTask(ctx context.Context, t *Task) error
	UpdateTask(ctx context.Context, t *Task) error
	GetTask(ctx context.Context, id string) (*Task, error)
	ListTasks(ctx context.Context, owner string, imageID string, limit int) ([]*Task, error)
}
