package imageapi

import (
	"fmt"
	"net/http"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// API is the Glance v2 HTTP API.
type API struct {
	svc *image.Service
}

// New returns the API over the image service.
func New(svc *image.Service) *API { return &API{svc: svc} }

// Prefix is where the service is mounted.
const Prefix = "/image"

// Service returns the routes, rules and error renderer to mount.
func (a *API) Service() httpx.Service {
	return httpx.Service{Name: "image", Prefix: Prefix, Routes: a.routes(), Errors: renderError, Rules: Rules}
}

func (a *API) routes() []httpx.Route {
	pub := func(m, p string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: httpx.RulePublic, Anonymous: true, Handler: h}
	}
	// Image routes load the image and authorize against it (Deferred).
	img := func(m, p, rule string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Deferred: true, Handler: h}
	}
	data := func(m, p, rule string, h httpx.HandlerFunc) httpx.Route {
		return httpx.Route{Method: m, Path: p, Rule: rule, Deferred: true, Stream: true, Handler: h}
	}
	return []httpx.Route{
		pub("GET", "", a.versions),
		pub("GET", "/{$}", a.versions),
		pub("GET", "/versions", a.versionsOK),
		pub("GET", "/v2", a.versions),
		pub("GET", "/v2/{$}", a.versions),

		img("GET", "/v2/images", "get_images", a.listImages),
		img("POST", "/v2/images", "add_image", a.createImage),
		img("GET", "/v2/images/{image_id}", "get_image", a.getImage),
		img("PATCH", "/v2/images/{image_id}", "modify_image", a.updateImage),
		img("DELETE", "/v2/images/{image_id}", "delete_image", a.deleteImage),
		img("POST", "/v2/images/{image_id}/actions/deactivate", "deactivate", a.deactivate),
		img("POST", "/v2/images/{image_id}/actions/reactivate", "reactivate", a.reactivate),
		img("PUT", "/v2/images/{image_id}/tags/{tag}", "modify_image", a.addTag),
		img("DELETE", "/v2/images/{image_id}/tags/{tag}", "modify_image", a.deleteTag),

		data("PUT", "/v2/images/{image_id}/file", "upload_image", a.upload),
		data("GET", "/v2/images/{image_id}/file", "download_image", a.download),
		data("PUT", "/v2/images/{image_id}/stage", "stage_image", a.stage),
		img("POST", "/v2/images/{image_id}/import", "import_image", a.importImage),
		img("GET", "/v2/images/{image_id}/tasks", "get_image", a.imageTasks),

		img("GET", "/v2/images/{image_id}/members", "get_members", a.listMembers),
		img("POST", "/v2/images/{image_id}/members", "add_member", a.addMember),
		img("GET", "/v2/images/{image_id}/members/{member_id}", "get_member", a.getMember),
		img("PUT", "/v2/images/{image_id}/members/{member_id}", "modify_member", a.updateMember),
		img("DELETE", "/v2/images/{image_id}/members/{member_id}", "delete_member", a.deleteMember),

		img("GET", "/v2/tasks", "get_tasks", a.listTasks),
		img("GET", "/v2/tasks/{task_id}", "get_task", a.getTask),

		{Method: "GET", Path: "/v2/info/import", Rule: "image_info", Handler: a.infoImport},
		{Method: "GET", Path: "/v2/info/stores", Rule: "image_info", Handler: a.infoStores},
		{Method: "GET", Path: "/v2/info/usage", Rule: "image_info", Handler: a.infoUsage},

		{Method: "GET", Path: "/v2/schemas/image", Rule: "image_info", Handler: a.schema(imageSchema)},
		{Method: "GET", Path: "/v2/schemas/images", Rule: "image_info", Handler: a.schema(imagesSchema)},
		{Method: "GET", Path: "/v2/schemas/member", Rule: "image_info", Handler: a.schema(memberSchema)},
		{Method: "GET", Path: "/v2/schemas/members", Rule: "image_info", Handler: a.schema(membersSchema)},
		{Method: "GET", Path: "/v2/schemas/task", Rule: "image_info", Handler: a.schema(taskSchema)},
		{Method: "GET", Path: "/v2/schemas/tasks", Rule: "image_info", Handler: a.schema(tasksSchema)},
	}
}

type obj = map[string]any

// Versions: Gureum implements the v2 API as of glance's v2.16 (2024.1);
// every earlier v2 minor version is a subset.
const currentMinor = 16

func versionList(base string) []obj {
	var out []obj
	for minor := currentMinor; minor >= 0; minor-- {
		status := "SUPPORTED"
		if minor == currentMinor {
			status = "CURRENT"
		}
		out = append(out, obj{
			"id":     fmt.Sprintf("v2.%d", minor),
			"status": status,
			"links":  []obj{{"rel": "self", "href": base + Prefix + "/v2/"}},
		})
	}
	return out
}

// versions answers the root (and unknown version roots) with 300, as
// glance's version negotiation does.
func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusMultipleChoices, obj{"versions": versionList(httpx.BaseURL(r))})
	return nil
}

// versionsOK is GET /versions, which glance answers with 200
// (glanceclient's version discovery expects it).
func (a *API) versionsOK(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"versions": versionList(httpx.BaseURL(r))})
	return nil
}
