// Package errs holds the error kinds every service returns and the single
// table that maps them to HTTP status codes. Services return *Error values;
// each API package renders them in its own OpenStack body format.
package errs

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error independently of any wire format.
type Kind int

const (
	KindInternal Kind = iota
	KindBadRequest
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindMethodNotAllowed
	KindConflict
	KindGone
	KindPreconditionFailed
	KindTooLarge
	KindUnsupportedMedia
	KindRangeNotSatisfiable
	KindTooManyRequests
	KindOverQuota // quota exceeded; status depends on the service (413 / 403 / 409)
	KindNotImplemented
	KindUnavailable
)

// status is the one place kinds become status codes.
var status = map[Kind]int{
	KindInternal:            http.StatusInternalServerError,
	KindBadRequest:          http.StatusBadRequest,
	KindUnauthorized:        http.StatusUnauthorized,
	KindForbidden:           http.StatusForbidden,
	KindNotFound:            http.StatusNotFound,
	KindMethodNotAllowed:    http.StatusMethodNotAllowed,
	KindConflict:            http.StatusConflict,
	KindGone:                http.StatusGone,
	KindPreconditionFailed:  http.StatusPreconditionFailed,
	KindTooLarge:            http.StatusRequestEntityTooLarge,
	KindUnsupportedMedia:    http.StatusUnsupportedMediaType,
	KindRangeNotSatisfiable: http.StatusRequestedRangeNotSatisfiable,
	KindTooManyRequests:     http.StatusTooManyRequests,
	KindOverQuota:           http.StatusRequestEntityTooLarge,
	KindNotImplemented:      http.StatusNotImplemented,
	KindUnavailable:         http.StatusServiceUnavailable,
}

// Error is a classified error with a message safe to show to API users.
type Error struct {
	Kind    Kind
	Message string
	// Type is a service specific error name (Neutron's "NetworkInUse",
	// "IpAddressGenerationFailure", ...). Optional.
	Type string
	// Status overrides the kind's default status code when non-zero.
	Status int
	// RetryAfter is sent as a Retry-After header when non-zero.
	RetryAfter time.Duration
	// Cause is logged, never shown.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// StatusCode returns the HTTP status for the error.
func (e *Error) StatusCode() int {
	if e.Status != 0 {
		return e.Status
	}
	return status[e.Kind]
}

// WithType sets a service specific type name and returns the error.
func (e *Error) WithType(t string) *Error { e.Type = t; return e }

// WithStatus overrides the status code and returns the error.
func (e *Error) WithStatus(code int) *Error { e.Status = code; return e }

func newf(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, a...)}
}

func BadRequest(format string, a ...any) *Error   { return newf(KindBadRequest, format, a...) }
func Unauthorized(format string, a ...any) *Error { return newf(KindUnauthorized, format, a...) }
func Forbidden(format string, a ...any) *Error    { return newf(KindForbidden, format, a...) }
func NotFound(format string, a ...any) *Error     { return newf(KindNotFound, format, a...) }
func Conflict(format string, a ...any) *Error     { return newf(KindConflict, format, a...) }
func TooLarge(format string, a ...any) *Error     { return newf(KindTooLarge, format, a...) }
func OverQuota(format string, a ...any) *Error    { return newf(KindOverQuota, format, a...) }
func NotImplemented(format string, a ...any) *Error {
	return newf(KindNotImplemented, format, a...)
}
func PreconditionFailed(format string, a ...any) *Error {
	return newf(KindPreconditionFailed, format, a...)
}
func UnsupportedMedia(format string, a ...any) *Error {
	return newf(KindUnsupportedMedia, format, a...)
}
func TooManyRequests(retry time.Duration, format string, a ...any) *Error {
	e := newf(KindTooManyRequests, format, a...)
	e.RetryAfter = retry
	return e
}

// Internal wraps an unexpected error. The cause is logged, not returned.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Message: "An unexpected error prevented the server from fulfilling your request.", Cause: cause}
}

// From converts any error into *Error; unclassified errors become internal.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
