// Package identityapi serves the Keystone v3 API under /identity.
package identityapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// renderError writes keystone's error body {"error": {code, title, message}}.
func renderError(w http.ResponseWriter, _ *http.Request, e *errs.Error) {
	code := e.StatusCode()
	httpx.WriteJSON(w, code, map[string]any{"error": map[string]any{
		"code":    code,
		"title":   http.StatusText(code),
		"message": e.Message,
	}})
}
