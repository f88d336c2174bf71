package imageapi

import (
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

func requireOctetStream(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/octet-stream" {
		return errs.UnsupportedMedia("The request media type %s is not supported by this server; use application/octet-stream.", ct)
	}
	return nil
}

// upload streams PUT /file to the store; nothing is buffered in memory.
func (a *API) upload(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if err := requireOctetStream(r); err != nil {
		return err
	}
	if _, err := a.svc.Upload(r.Context(), img.ID, r.Body, r.Header.Get("Content-MD5")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) stage(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if err := requireOctetStream(r); err != nil {
		return err
	}
	if err := a.svc.Stage(r.Context(), img.ID, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// download serves GET /file from the file in large writes, honouring Range.
func (a *API) download(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	if img.Status == image.StatusDeactivated && !caller(r).Admin {
		return errs.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
	}
	f, err := a.svc.Open(r.Context(), img)
	if err != nil {
		return err
	}
	if f == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if r.Header.Get("Range") == "" {
		h.Set("Content-MD5", img.Checksum)
	}
	http.ServeContent(bigWrites{w}, r, "", time.Time{}, f)
	return nil
}

// downloadChunk is the size of the writes a download makes to the socket.
// Measured on loopback here: 1 MiB writes send about 1.6x what 32 KiB
// writes (io.Copy's default) do, and sendfile from a file evicted from the
// page cache was slower than both. One buffer per download in flight.
const downloadChunk = 1 << 20

var downloadBufs = sync.Pool{New: func() any { b := make([]byte, downloadChunk); return &b }}

// bigWrites makes http.ServeContent copy the image in downloadChunk
// writes: ServeContent copies with io.Copy, which uses the writer's
// ReadFrom.
type bigWrites struct{ http.ResponseWriter }

func (w bigWrites) ReadFrom(src io.Reader) (int64, error) {
	buf := downloadBufs.Get().(*[]byte)
	defer downloadBufs.Put(buf)
	// Only Write of the wrapped writer: its own ReadFrom would take the
	// sendfile path or a 32 KiB buffer.
	return io.CopyBuffer(struct{ io.Writer }{w.ResponseWriter}, struct{ io.Reader }{src}, *buf)
}

type importRequest struct {
	Method struct {
		Name string `json:"name"`
		URI  string `json:"uri,omitempty"`
	} `json:"method"`
	Stores               []string `json:"stores,omitempty"`
	AllStores            *bool    `json:"all_stores,omitempty"`
	AllStoresMustSucceed *bool    `json:"all_stores_must_succeed,omitempty"`
}

func (a *API) importImage(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	var req importRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Method.Name == "" {
		return errs.BadRequest("Import request requires a 'method' field.")
	}
	for _, s := range req.Stores {
		if s != image.StoreID {
			return errs.Conflict("Store for identifier %s not found", s)
		}
	}
	raw := map[string]any{"method": map[string]any{"name": req.Method.Name}}
	if req.Method.URI != "" {
		raw["method"].(map[string]any)["uri"] = req.Method.URI
	}
	if req.Stores != nil {
		raw["stores"] = req.Stores
	}
	if req.AllStores != nil {
		raw["all_stores"] = *req.AllStores
	}
	if req.AllStoresMustSucceed != nil {
		raw["all_stores_must_succeed"] = *req.AllStoresMustSucceed
	}
	if _, err := a.svc.Import(r.Context(), caller(r), img.ID, req.Method.Name, w.Header().Get("X-Openstack-Request-Id"), raw); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) infoImport(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"import-methods": obj{
		"description": "Import methods available.",
		"type":        "array",
		"value":       image.ImportMethods,
	}})
	return nil
}

func (a *API) infoStores(w http.ResponseWriter, r *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, obj{"stores": []obj{{
		"id": image.StoreID, "description": "Local file store in the data directory", "default": true,
	}}})
	return nil
}

// infoUsage is glance's /v2/info/usage (unified-limits names).
func (a *API) infoUsage(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	u, err := a.svc.Usage(r.Context(), c.Project)
	if err != nil {
		return err
	}
	imgs, bytes := a.svc.Limits()
	lim := func(n int64) any {
		if n <= 0 {
			return -1
		}
		return n
	}
	mib := func(n int64) any {
		if n <= 0 {
			return -1
		}
		return n >> 20
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"usage": obj{
		"image_size_total":      obj{"limit": mib(bytes), "usage": u.Bytes >> 20},
		"image_stage_total":     obj{"limit": mib(bytes), "usage": 0},
		"image_count_total":     obj{"limit": lim(int64(imgs)), "usage": u.Images},
		"image_count_uploading": obj{"limit": lim(int64(imgs)), "usage": u.Uploading},
	}})
	return nil
}

func (a *API) imageTasks(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	ts, err := a.svc.Tasks(r.Context(), "", img.ID, 0)
	if err != nil {
		return err
	}
	out := make([]obj, 0, len(ts))
	for _, t := range ts {
		out = append(out, imageTaskView(t))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"tasks": out})
	return nil
}

func (a *API) listTasks(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	if err := httpx.Authorize(r, policy.Target{"project_id": c.Project}); err != nil {
		return err
	}
	owner := c.Project
	if c.Admin {
		owner = ""
	}
	limit, err := httpx.QueryInt(r, "limit", maxLimit)
	if err != nil {
		return err
	}
	ts, err := a.svc.Tasks(r.Context(), owner, "", min(limit, maxLimit))
	if err != nil {
		return err
	}
	out := make([]obj, 0, len(ts))
	for _, t := range ts {
		out = append(out, taskView(t, false))
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"tasks": out, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"})
	return nil
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.Task(r.Context(), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	if err := httpx.Authorize(r, policy.Target{"project_id": t.Owner}); err != nil {
		if errs.Is(err, errs.KindForbidden) {
			return errs.NotFound("Task with the given ID %s was not found.", t.ID)
		}
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, taskView(t, true))
	return nil
}
