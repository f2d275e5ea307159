package idp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// stsError is an error of the security token service (authorize and token
// endpoints), rendered as Entra renders it: an OAuth error code, an AADSTS
// number and message, trace and correlation ids and a timestamp.
type stsError struct {
	status   int
	code     string // OAuth error: invalid_request, invalid_grant, ...
	aadsts   int
	msg      string
	suberror string
}

func (e *stsError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.msg) }

func stsErr(status int, code string, aadsts int, format string, args ...any) *stsError {
	return &stsError{status: status, code: code, aadsts: aadsts, msg: fmt.Sprintf(format, args...)}
}

// Constructors for the errors used in more than one place.
func errMissingParam(name string) *stsError {
	return stsErr(400, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

func errMalformed() *stsError {
	return stsErr(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
}

func errUnknownClient(clientID, tenant string) *stsError {
	return stsErr(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)
}

// stsBody is the JSON error body of the token endpoint.
type stsBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
	SubError         string `json:"suberror,omitempty"`
}

const stsTimeLayout = "2006-01-02 15:04:05Z"

func (s *Server) stsBody(r *http.Request, e *stsError) stsBody {
	now := s.now().UTC().Format(stsTimeLayout)
	trace, corr := newGUID(), correlationID(r)
	return stsBody{
		Error:            e.code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.aadsts, e.msg, trace, corr, now),
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        now,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         "https://login.microsoftonline.com/error?code=" + strconv.Itoa(e.aadsts),
		SubError:         e.suberror,
	}
}

// writeSTSError writes e as the token endpoint's JSON error.
func (s *Server) writeSTSError(w http.ResponseWriter, r *http.Request, e *stsError) {
	body := s.stsBody(r, e)
	s.log.Info("sts error", "path", r.URL.Path, "error", e.code, "aadsts", e.aadsts, "trace_id", body.TraceID)
	w.Header().Set("x-ms-request-id", body.TraceID)
	writeJSON(w, e.status, body)
}

// correlationID echoes the client's client-request-id when it is a GUID,
// as Entra does, and makes one up otherwise.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); isGUID(id) {
		return id
	}
	return newGUID()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// graphError is a Microsoft Graph error.
type graphError struct {
	status int
	code   string
	msg    string
}

func (e *graphError) Error() string { return e.code + ": " + e.msg }

func gErr(status int, code, format string, args ...any) *graphError {
	return &graphError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) writeGraphError(w http.ResponseWriter, r *http.Request, e *graphError) {
	reqID := newGUID()
	clientReq := r.Header.Get("client-request-id")
	if clientReq == "" {
		clientReq = reqID
	}
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", clientReq)
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.baseURL+`/common/oauth2/authorize", client_id="`+graphAppID+`"`)
	}
	s.log.Info("graph error", "path", r.URL.Path, "status", e.status, "code", e.code, "request_id", reqID)
	writeJSON(w, e.status, map[string]any{"error": map[string]any{
		"code":    e.code,
		"message": e.msg,
		"innerError": map[string]any{
			"date":              s.now().UTC().Format(time.RFC3339),
			"request-id":        reqID,
			"client-request-id": clientReq,
		},
	}})
}
