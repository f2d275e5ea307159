package server

import (
	"encoding/json"
	"net/http"
)

// Code is a machine-readable reason airgate gives for an error it answers
// itself. Codes are stable: clients and the audit log key on them.
type Code string

// Error codes of responses airgate writes itself.
const (
	CodeUnauthenticated   Code = "unauthenticated"
	CodeForbidden         Code = "forbidden"
	CodeNotFound          Code = "not-found"
	CodeBadRequest        Code = "bad-request"
	CodeBodyTooLarge      Code = "body-too-large"
	CodeAuditUnavailable  Code = "audit-unavailable"
	CodeAuthUnavailable   Code = "auth-unavailable"
	CodeDirectoryDown     Code = "directory-unavailable"
	CodeUpstreamError     Code = "upstream-error"
	CodeUpstreamTimeout   Code = "upstream-timeout"
	CodeInternal          Code = "internal-error"
	CodeAPINotServed      Code = "api-not-served"
	CodeDecisionError     Code = "decision-unavailable"
	CodeFilterUnsupported Code = "filter-unsupported"
)

// errorBody is the JSON every airgate-made error response carries.
type errorBody struct {
	Error     string   `json:"error"`
	Code      Code     `json:"code"`
	Message   string   `json:"message"`
	Reasons   []string `json:"reasons,omitempty"`
	Missing   any      `json:"missing,omitempty"`
	RequestID string   `json:"request_id"`
}

// writeError writes a JSON error. message is safe for the caller: it MUST
// NOT contain token contents, secrets or internal error text.
func writeError(w http.ResponseWriter, status int, code Code, message, requestID string, reasons []string, missing any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(errorBody{
		Error:     http.StatusText(status),
		Code:      code,
		Message:   message,
		Reasons:   reasons,
		Missing:   missing,
		RequestID: requestID,
	})
	_, _ = w.Write(append(b, '\n'))
}
