package imageapi

import (
	"time"

	"github.com/gureum/gureum/internal/image"
)

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// imageView is glance's image JSON: core attributes, then the custom
// properties at the top level beside them.
func imageView(img *image.Image) obj {
	m := obj{}
	for k, v := range img.Properties {
		m[k] = v
	}
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	core := obj{
		"id":               img.ID,
		"name":             nullStr(img.Name),
		"status":           img.Status,
		"visibility":       img.Visibility,
		"protected":        img.Protected,
		"os_hidden":        img.Hidden,
		"checksum":         nullStr(img.Checksum),
		"os_hash_algo":     nullStr(img.HashAlgo),
		"os_hash_value":    nullStr(img.HashValue),
		"owner":            img.Owner,
		"size":             nullInt(img.Size),
		"virtual_size":     nullInt(img.VirtualSize),
		"min_ram":          img.MinRAM,
		"min_disk":         img.MinDisk,
		"disk_format":      nullStr(img.DiskFormat),
		"container_format": nullStr(img.ContainerFormat),
		"created_at":       ts(img.CreatedAt),
		"updated_at":       ts(img.UpdatedAt),
		"tags":             tags,
		"self":             "/v2/images/" + img.ID,
		"file":             "/v2/images/" + img.ID + "/file",
		"schema":           "/v2/schemas/image",
	}
	for k, v := range core {
		m[k] = v
	}
	if img.HasData() {
		m["stores"] = image.StoreID
	}
	return m
}

func memberView(m *image.Member) obj {
	return obj{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": ts(m.CreatedAt),
		"updated_at": ts(m.UpdatedAt),
		"schema":     "/v2/schemas/member",
	}
}

func taskView(t *image.Task, full bool) obj {
	m := obj{
		"id":         t.ID,
		"type":       t.Type,
		"status":     t.Status,
		"owner":      t.Owner,
		"expires_at": ts(t.ExpiresAt),
		"created_at": ts(t.CreatedAt),
		"updated_at": ts(t.UpdatedAt),
		"self":       "/v2/tasks/" + t.ID,
		"schema":     "/v2/schemas/task",
		"image_id":   t.ImageID,
		"request_id": t.RequestID,
		"user_id":    t.UserID,
	}
	if full {
		m["input"] = t.Input
		m["result"] = t.Result
		m["message"] = t.Message
	}
	return m
}

// imageTaskView is the task form of GET /v2/images/{id}/tasks, which glance
// renders from its database row (request-id, user, deleted, microseconds).
func imageTaskView(t *image.Task) obj {
	dbTime := func(x time.Time) string { return x.UTC().Format("2006-01-02T15:04:05.000000") }
	var result any
	if len(t.Result) > 0 {
		result = t.Result
	}
	return obj{
		"id":         t.ID,
		"image_id":   t.ImageID,
		"request-id": t.RequestID,
		"user":       t.UserID,
		"type":       t.Type,
		"status":     t.Status,
		"owner":      t.Owner,
		"expires_at": dbTime(t.ExpiresAt),
		"created_at": dbTime(t.CreatedAt),
		"updated_at": dbTime(t.UpdatedAt),
		"deleted_at": nil,
		"deleted":    false,
		"input":      t.Input,
		"result":     result,
		"message":    t.Message,
	}
}
