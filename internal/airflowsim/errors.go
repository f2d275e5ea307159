package airflowsim

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// v1DocLink is where Airflow 2's problem types point.
const v1DocLink = "https://airflow.apache.org/docs/apache-airflow/" + Airflow2Version + "/stable-rest-api-ref.html"

// v1ProblemTypes mirrors EXCEPTIONS_LINK_MAP in Airflow 2's
// airflow/api_connexion/exceptions.py.
var v1ProblemTypes = map[int]string{
	400: v1DocLink + "#section/Errors/BadRequest",
	401: v1DocLink + "#section/Errors/Unauthenticated",
	403: v1DocLink + "#section/Errors/PermissionDenied",
	404: v1DocLink + "#section/Errors/NotFound",
	405: v1DocLink + "#section/Errors/MethodNotAllowed",
	409: v1DocLink + "#section/Errors/AlreadyExists",
	500: v1DocLink + "#section/Errors/Unknown",
}

// v1Problem is connexion's RFC 7807 body (the v1 Error schema), sent as
// application/problem+json. Flask sorts the keys.
type v1Problem struct {
	Detail string `json:"detail"`
	Status int    `json:"status"`
	Title  string `json:"title"`
	Type   string `json:"type"`
}

// v2Error is FastAPI's HTTPException body (HTTPExceptionResponse).
type v2Error struct {
	Detail string `json:"detail"`
}

// v2ValidationError is one entry of FastAPI's 422 body (HTTPValidationError).
type v2ValidationError struct {
	Type  string `json:"type"`
	Loc   []any  `json:"loc"`
	Msg   string `json:"msg"`
	Input any    `json:"input"`
}

// The messages werkzeug uses for the errors Airflow 2 does not word itself.
const (
	werkzeugNotFound = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
	// Airflow 2 sends detail null on 401, which its own Error schema does
	// not allow; the double sends werkzeug's 401 text instead.
	werkzeugUnauthorized = "The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required."
	werkzeugBadRequest   = "The browser (or proxy) sent a request that this server could not understand."
)

func v1ProblemReply(status int, title, detail string) reply {
	typ, ok := v1ProblemTypes[status]
	if !ok {
		typ = "about:blank"
	}
	return reply{
		status:      status,
		body:        v1Problem{Detail: detail, Status: status, Title: title, Type: typ},
		contentType: "application/problem+json",
	}
}

// fail answers an error in the calling API's shape: v1 a problem with
// title and detail, v2 {"detail": detail}.
func (c *call) fail(status int, title, detail string) reply {
	if c.v1() {
		return v1ProblemReply(status, title, detail)
	}
	return reply{status: status, body: v2Error{Detail: detail}}
}

// routeNotFound is the answer for a path (or method) the double does not
// serve: what Airflow answers for a path it has no route for.
func routeNotFound(api string) reply {
	if api == APIv1 {
		rep := v1ProblemReply(http.StatusNotFound, "Not Found", werkzeugNotFound)
		rep.body = v1Problem{Detail: werkzeugNotFound, Status: 404, Title: "Not Found", Type: "about:blank"}
		return rep
	}
	return reply{status: http.StatusNotFound, body: v2Error{Detail: "Not Found"}}
}

// invalid answers a request whose body or query does not fit the schema:
// v1 400 with marshmallow-style messages, v2 422 with pydantic-style ones.
func (c *call) invalid(errs []v2ValidationError) reply {
	if c.v1() {
		return v1ProblemReply(http.StatusBadRequest, "Bad Request", marshmallowMessages(errs))
	}
	return reply{status: http.StatusUnprocessableEntity, body: struct {
		Detail []v2ValidationError `json:"detail"`
	}{errs}}
}

// marshmallowMessages renders errors the way Airflow 2 puts
// str(err.messages) into a problem's detail: {'field': ['message.']}.
func marshmallowMessages(errs []v2ValidationError) string {
	byField := map[string][]string{}
	for _, e := range errs {
		field := "_schema"
		if len(e.Loc) > 1 {
			field = fmt.Sprint(e.Loc[len(e.Loc)-1])
		}
		byField[field] = append(byField[field], v1Message(e))
	}
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s': [", f)
		for j, m := range byField[f] {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "'%s'", m)
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

func v1Message(e v2ValidationError) string {
	switch e.Type {
	case "extra_forbidden":
		return "Unknown field."
	case "missing":
		return "Missing data for required field."
	case "string_type":
		return "Not a valid string."
	case "bool_type":
		return "Not a valid boolean."
	case "int_type":
		return "Not a valid integer."
	case "dict_type":
		return "Not a valid mapping type."
	case "list_type":
		return "Not a valid list."
	case "datetime_type", "datetime_parsing", "timezone_aware":
		return "Not a valid datetime."
	case "greater_than_equal":
		return "Must be greater than or equal to the minimum."
	}
	return e.Msg
}

func extraField(name string, input any) v2ValidationError {
	return v2ValidationError{Type: "extra_forbidden", Loc: []any{"body", name}, Msg: "Extra inputs are not permitted", Input: input}
}

func missingField(name string, body any) v2ValidationError {
	return v2ValidationError{Type: "missing", Loc: []any{"body", name}, Msg: "Field required", Input: body}
}

func wrongType(name, typ, msg string, input any) v2ValidationError {
	return v2ValidationError{Type: typ, Loc: []any{"body", name}, Msg: msg, Input: input}
}
