package imageapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/httpx"
)

func (a *API) schema(s func() obj) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, http.StatusOK, s())
		return nil
	}
}

func str(desc string, extra ...any) obj {
	o := obj{"type": "string", "description": desc}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i].(string)] = extra[i+1]
	}
	return o
}

func ro(o obj) obj { o["readOnly"] = true; return o }

// imageProperties follows glance's schema (glance/api/v2/images.py), which
// glanceclient reads to tell core attributes from custom properties.
func imageProperties() obj {
	nullStr := func(desc string, extra ...any) obj {
		o := str(desc, extra...)
		o["type"] = []any{"null", "string"}
		return o
	}
	return obj{
		"id":               str("An identifier for the image", "pattern", `^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$`),
		"name":             nullStr("Descriptive name for the image", "maxLength", 255),
		"status":           ro(str("Status of the image", "enum", []string{"queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"})),
		"visibility":       str("Scope of image accessibility", "enum", []string{"community", "public", "private", "shared"}),
		"protected":        obj{"type": "boolean", "description": "If true, image will not be deletable."},
		"os_hidden":        obj{"type": "boolean", "description": "If true, image will not appear in default image list response."},
		"checksum":         ro(nullStr("md5 hash of image contents.", "maxLength", 32)),
		"os_hash_algo":     ro(nullStr("Algorithm to calculate the os_hash_value", "maxLength", 64)),
		"os_hash_value":    ro(nullStr("Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength", 128)),
		"owner":            nullStr("Owner of the image", "maxLength", 255),
		"size":             ro(obj{"type": []any{"null", "integer"}, "description": "Size of image file in bytes"}),
		"virtual_size":     ro(obj{"type": []any{"null", "integer"}, "description": "Virtual size of image in bytes"}),
		"container_format": obj{"type": []any{"null", "string"}, "description": "Format of the container", "enum": append([]any{nil}, toAny(image.ContainerFormats)...)},
		"disk_format":      obj{"type": []any{"null", "string"}, "description": "Format of the disk", "enum": append([]any{nil}, toAny(image.DiskFormats)...)},
		"created_at":       ro(str("Date and time of image registration")),
		"updated_at":       ro(str("Date and time of the last image modification")),
		"tags":             obj{"type": "array", "description": "List of strings related to the image", "items": obj{"type": "string", "maxLength": 255}},
		"direct_url":       ro(str("URL to access the image file kept in external store")),
		"min_ram":          obj{"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
		"min_disk":         obj{"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
		"self":             ro(str("An image self url")),
		"file":             ro(str("An image file url")),
		"stores":           ro(str("Store in which image data resides.  Only present when the operator has enabled multiple stores.")),
		"schema":           ro(str("An image schema url")),
		"locations":        obj{"type": "array", "description": "A set of URLs to access the image file kept in external store", "items": obj{"type": "object"}},
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func imageSchema() obj {
	return obj{
		"name":                 "image",
		"properties":           imageProperties(),
		"additionalProperties": obj{"type": "string"},
		"links": []obj{
			{"rel": "self", "href": "{self}"},
			{"rel": "enclosure", "href": "{file}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func imagesSchema() obj {
	return obj{
		"name": "images",
		"properties": obj{
			"images": obj{"type": "array", "items": imageSchema()},
			"schema": obj{"type": "string"},
			"first":  obj{"type": "string"},
			"next":   obj{"type": "string"},
		},
		"links": []obj{
			{"rel": "first", "href": "{first}"},
			{"rel": "next", "href": "{next}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func memberSchema() obj {
	return obj{
		"name": "member",
		"properties": obj{
			"created_at": str("Date and time of image member creation"),
			"image_id":   str("An identifier for the image"),
			"member_id":  str("An identifier for the image member (tenantId)"),
			"status":     str("The status of this image member", "enum", []string{"pending", "accepted", "rejected"}),
			"updated_at": str("Date and time of last modification of image member"),
			"schema":     ro(str("")),
		},
	}
}

func membersSchema() obj {
	return obj{
		"name": "members",
		"properties": obj{
			"members": obj{"type": "array", "items": memberSchema()},
			"schema":  obj{"type": "string"},
		},
		"links": []obj{{"rel": "describedby", "href": "{schema}"}},
	}
}

func taskProperties() obj {
	return obj{
		"id":         str("An identifier for the task"),
		"type":       str("The type of task represented by this content", "enum", []string{"import", "api_image_import"}),
		"status":     str("The current status of this task", "enum", []string{"pending", "processing", "success", "failure"}),
		"input":      obj{"type": []any{"null", "object"}, "description": "The parameters required by task, JSON blob"},
		"result":     obj{"type": []any{"null", "object"}, "description": "The result of current task, JSON blob"},
		"owner":      str("An identifier for the owner of this task"),
		"message":    str("Human-readable informative message only included when appropriate (usually on failure)"),
		"image_id":   ro(str("Image associated with the task")),
		"request_id": ro(str("Human-readable informative request-id")),
		"user_id":    ro(str("User associated with the task")),
		"expires_at": obj{"type": []any{"null", "string"}, "description": "Datetime when this resource would be subject to removal"},
		"created_at": str("Datetime when this resource was created"),
		"updated_at": str("Datetime when this resource was updated"),
		"self":       str(""),
		"schema":     str(""),
	}
}

func taskSchema() obj {
	return obj{"name": "task", "properties": taskProperties(), "links": []obj{{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}}}
}

func tasksSchema() obj {
	return obj{
		"name": "tasks",
		"properties": obj{
			"tasks":  obj{"type": "array", "items": taskSchema()},
			"schema": obj{"type": "string"},
			"first":  obj{"type": "string"},
			"next":   obj{"type": "string"},
		},
		"links": []obj{{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}},
	}
}
