package networkapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

// defaultType names errors that carry no Neutron type of their own, as
// neutron's API layer does for the webob exceptions.
var defaultType = map[errs.Kind]string{
	errs.KindBadRequest:         "HTTPBadRequest",
	errs.KindUnauthorized:       "HTTPUnauthorized",
	errs.KindForbidden:          "PolicyNotAuthorized",
	errs.KindNotFound:           "HTTPNotFound",
	errs.KindMethodNotAllowed:   "HTTPMethodNotAllowed",
	errs.KindConflict:           "Conflict",
	errs.KindPreconditionFailed: "RevisionNumberConstraintFailed",
	errs.KindTooLarge:           "HTTPRequestEntityTooLarge",
	errs.KindOverQuota:          "OverQuota",
	errs.KindInternal:           "HTTPInternalServerError",
	errs.KindNotImplemented:     "HTTPNotImplemented",
	errs.KindUnavailable:        "HTTPServiceUnavailable",
}

// renderError writes Neutron's {"NeutronError": {type, message, detail}}.
func renderError(w http.ResponseWriter, _ *http.Request, e *errs.Error) {
	t := e.Type
	if t == "" {
		t = defaultType[e.Kind]
	}
	if t == "" {
		t = http.StatusText(e.StatusCode())
	}
	httpx.WriteJSON(w, e.StatusCode(), map[string]any{"NeutronError": map[string]any{
		"type":    t,
		"message": e.Message,
		"detail":  "",
	}})
}
