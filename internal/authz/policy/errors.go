package policy

import (
	"errors"
	"strconv"
)

// Sentinel errors wrapped by [FieldError]. Their text reads as a predicate
// of the offending value.
var (
	ErrMissing         = errors.New("is required")
	ErrUnknownField    = errors.New("is not a known field")
	ErrWrongType       = errors.New("has the wrong type")
	ErrVersion         = errors.New("is not a supported policy version (want 1)")
	ErrUnknownResource = errors.New("is not an Airflow resource")
	ErrFABAction       = errors.New("is not a FAB action")
	ErrMethod          = errors.New("is not an Airflow 3 method")
	ErrPerDAGResource  = errors.New("is a per-DAG FAB resource")
	ErrDAGSelector     = errors.New("is not a DAG id or glob")
	ErrTag             = errors.New("is not a DAG tag")
	ErrCondition       = errors.New("is not a valid condition")
	ErrReasonCode      = errors.New("is not a reason code")
	ErrRoleName        = errors.New("is not a valid role name")
	ErrBuiltinRole     = errors.New("redefines a built-in role")
	ErrUnknownRole     = errors.New("names no role")
	ErrCycle           = errors.New("forms an extends cycle")
	ErrEmptyRole       = errors.New("grants nothing")
	ErrGroupID         = errors.New("is not a group object id")
	ErrAppRole         = errors.New("is not an app role value")
	ErrMapping         = errors.New("is not a valid mapping")
	ErrDocument        = errors.New("is not a policy document")
)

// FieldError is one problem in a policy document: the field, as a path such
// as `roles.team-a.permissions[1].actions[0]`, the value found there, and the
// sentinel error (possibly wrapped with detail) saying what is wrong with it.
// Inspect it with errors.As and the sentinel with errors.Is.
type FieldError struct {
	Field string
	// Value is the offending value as written; empty when the field is
	// missing or the problem is with the field itself.
	Value string
	Err   error
}

// Error reads `field: "value" <what is wrong>`.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Field + ": " + strconv.Quote(e.Value) + " " + e.Err.Error()
}

// Unwrap returns the sentinel (or its wrapper).
func (e *FieldError) Unwrap() error { return e.Err }

// problems collects field errors.
type problems []error

func (p *problems) add(field, value string, err error) {
	*p = append(*p, &FieldError{Field: field, Value: value, Err: err})
}

// More sentinels.
var (
	ErrNoEffect       = errors.New("has no effect")
	ErrNestedAppRole  = errors.New("is not allowed for app roles")
	ErrDuplicateRoles = errors.New("is a duplicate")
)
