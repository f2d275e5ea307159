package tokens

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

// Action is what an exchanged token may do to the DAGs its scope names. The
// vocabulary is airgate's own; each action stands for a fixed list of
// Airflow operations in each API (see [ActionOperations]).
type Action string

// Actions of the scope vocabulary.
const (
	// ActionRead reads a DAG and what hangs off it: details, source, runs,
	// task instances, logs, XComs, versions, human-in-the-loop details.
	ActionRead Action = "read"
	// ActionTrigger creates DAG runs (post_dag_run, trigger_dag_run) and
	// nothing else: not even reading the run it created.
	ActionTrigger Action = "trigger"
	// ActionEdit changes a DAG's state: pause, run and task instance state,
	// clearing, notes, XCom values, human-in-the-loop answers.
	ActionEdit Action = "edit"
	// ActionDelete deletes a DAG, its runs, task instances or XCom entries.
	ActionDelete Action = "delete"
)

// Actions lists the vocabulary in a fixed order.
var Actions = []Action{ActionRead, ActionTrigger, ActionEdit, ActionDelete}

// actionOps maps each action to the operations it covers, per API, by
// operationId. Operations that also need a permission outside the DAG
// family (Datasets, ASSET, Audit Logs) are covered by no action, and
// neither are the batch and wildcard forms that reach every DAG.
var actionOps = map[Action]map[catalog.API][]string{
	ActionRead: {
		catalog.V1: {
			"get_dag", "get_dag_details", "get_tasks", "get_task",
			"get_dag_runs", "get_dag_run",
			"get_task_instances", "get_task_instance", "get_task_instance_dependencies",
			"get_extra_links", "get_mapped_task_instances", "get_mapped_task_instance",
			"get_mapped_task_instance_dependencies", "get_task_instance_tries",
			"get_task_instance_try_details", "get_mapped_task_instance_tries",
			"get_mapped_task_instance_try_details", "get_log",
			"get_xcom_entries", "get_xcom_entry",
		},
		catalog.V2: {
			"get_dag", "get_dag_details", "get_dag_source", "get_tasks", "get_task",
			"get_dag_versions", "get_dag_version",
			"get_dag_runs", "get_dag_run", "wait_dag_run_until_finished",
			"get_task_instances", "get_task_instance", "get_task_instance_dependencies",
			"get_task_instance_dependencies_by_map_index", "get_external_log_url",
			"get_extra_links", "get_mapped_task_instances", "get_mapped_task_instance",
			"get_task_instance_tries", "get_task_instance_try_details",
			"get_mapped_task_instance_tries", "get_mapped_task_instance_try_details",
			"get_log", "get_xcom_entries", "get_xcom_entry",
			"get_hitl_details", "get_hitl_detail",
		},
	},
	ActionTrigger: {
		catalog.V1: {"post_dag_run"},
		catalog.V2: {"trigger_dag_run"},
	},
	ActionEdit: {
		catalog.V1: {
			"patch_dag", "update_dag_run_state", "clear_dag_run", "set_dag_run_note",
			"post_clear_task_instances", "post_set_task_instances_state",
			"patch_task_instance", "patch_mapped_task_instance",
			"set_task_instance_note", "set_mapped_task_instance_note",
		},
		catalog.V2: {
			"patch_dag", "patch_dag_run", "clear_dag_run", "post_clear_task_instances",
			"bulk_task_instances", "patch_task_instance", "patch_task_instance_by_map_index",
			"patch_task_instance_dry_run", "patch_task_instance_dry_run_by_map_index",
			"create_xcom_entry", "update_xcom_entry", "update_hitl_detail",
		},
	},
	ActionDelete: {
		catalog.V1: {"delete_dag", "delete_dag_run"},
		catalog.V2: {"delete_dag", "delete_dag_run", "delete_task_instance", "delete_xcom_entry"},
	},
}

// representativeOps are the operations an exchange decides, for every DAG a
// scope names, to establish that the subject (and actor) hold the action
// now. Every request made with the token is decided again in full, so the
// token never does more than the policy allows at the time of the request.
var representativeOps = map[Action]map[catalog.API][]string{
	ActionRead:    {catalog.V1: {"get_dag", "get_dag_runs"}, catalog.V2: {"get_dag", "get_dag_runs"}},
	ActionTrigger: {catalog.V1: {"post_dag_run"}, catalog.V2: {"trigger_dag_run"}},
	ActionEdit:    {catalog.V1: {"patch_dag", "update_dag_run_state"}, catalog.V2: {"patch_dag", "patch_dag_run"}},
	ActionDelete:  {catalog.V1: {"delete_dag", "delete_dag_run"}, catalog.V2: {"delete_dag", "delete_dag_run"}},
}

// ActionOperations returns the operationIds an action covers in api, in a
// fixed order. The slice is shared: callers MUST NOT modify it.
func ActionOperations(a Action, api catalog.API) []string { return actionOps[a][api] }

// RepresentativeOperations returns the operationIds an exchange decides for
// an action in api. The slice is shared: callers MUST NOT modify it.
func RepresentativeOperations(a Action, api catalog.API) []string {
	return representativeOps[a][api]
}

// covers reports whether the action covers the operation.
func (a Action) covers(op *catalog.Operation) bool {
	return slices.Contains(actionOps[a][op.API], op.ID)
}

func validAction(a Action) bool { return slices.Contains(Actions, a) }

// ScopeItem is one entry of an exchanged token's scope:
// "dag:<dag id or glob>:<action>". A glob uses "*" for any run of
// characters and "?" for one, as the policy's DAG selectors do.
type ScopeItem struct {
	DAG    string
	Action Action
}

// String returns "dag:<DAG>:<Action>".
func (s ScopeItem) String() string { return "dag:" + s.DAG + ":" + string(s.Action) }

// IsGlob reports whether the item names DAGs by pattern.
func (s ScopeItem) IsGlob() bool { return strings.ContainsAny(s.DAG, "*?") }

// Matches reports whether the item names the DAG with this id.
func (s ScopeItem) Matches(dagID string) bool {
	if !s.IsGlob() {
		return s.DAG == dagID
	}
	return policy.MatchDAGPattern(s.DAG, dagID)
}

// Scope is a parsed scope: the items in the order given, without
// duplicates. A Scope is immutable once parsed.
type Scope []ScopeItem

// MaxScopeItems bounds the items of one scope.
const MaxScopeItems = 32

// ErrScope is wrapped by every scope syntax error.
var ErrScope = errors.New("tokens: invalid scope")

// ScopeError is a scope item that does not parse.
type ScopeError struct {
	// Item is the offending item as written (bounded to 256 bytes).
	Item string
	// Msg says what is wrong with it.
	Msg string
}

func (e *ScopeError) Error() string { return fmt.Sprintf("scope %q: %s", e.Item, e.Msg) }

// Unwrap makes errors.Is(err, ErrScope) hold.
func (e *ScopeError) Unwrap() error { return ErrScope }

// ParseScope parses a space-separated scope (RFC 6749 §3.3) of items
// "dag:<dag id or glob>:<action>". Duplicates are dropped. An empty scope,
// more than MaxScopeItems items, or an item that does not parse is an
// error wrapping ErrScope (a *ScopeError for a bad item).
func ParseScope(s string) (Scope, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrScope)
	}
	if len(fields) > MaxScopeItems {
		return nil, fmt.Errorf("%w: more than %d items", ErrScope, MaxScopeItems)
	}
	out := make(Scope, 0, len(fields))
	for _, f := range fields {
		it, err := parseItem(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out, nil
}

// ParseScopeList parses the scope items of a verified token, one per
// element.
func ParseScopeList(items []string) (Scope, error) { return ParseScope(strings.Join(items, " ")) }

func parseItem(f string) (ScopeItem, error) {
	shown := f
	if len(shown) > 256 {
		shown = shown[:256]
	}
	kind, rest, ok := strings.Cut(f, ":")
	if !ok || kind != "dag" {
		return ScopeItem{}, &ScopeError{Item: shown, Msg: `want "dag:<dag id or glob>:<action>"`}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return ScopeItem{}, &ScopeError{Item: shown, Msg: `want "dag:<dag id or glob>:<action>"`}
	}
	it := ScopeItem{DAG: rest[:i], Action: Action(rest[i+1:])}
	if !validAction(it.Action) {
		return ScopeItem{}, &ScopeError{Item: shown, Msg: "unknown action (want read, trigger, edit or delete)"}
	}
	if !policy.ValidDAGPattern(it.DAG) {
		return ScopeItem{}, &ScopeError{Item: shown, Msg: `not a DAG id or glob (letters, digits, "_", ".", "-", "*", "?"; at most 250 characters)`}
	}
	return it, nil
}

// Strings returns the items as strings.
func (s Scope) Strings() []string {
	out := make([]string, len(s))
	for i, it := range s {
		out[i] = it.String()
	}
	return out
}

// String returns the scope as a space-separated string.
func (s Scope) String() string { return strings.Join(s.Strings(), " ") }

// Allows reports whether the scope covers a classified request: a request
// naming one DAG (catalog.ScopeOne) whose operation an item's action
// covers and whose DAG the item matches. Public operations (no
// authentication in Airflow) are allowed, since anyone may call them.
// Requests that reach every DAG (lists, "~", batch bodies, file tokens)
// and operations outside the DAG family are never covered.
func (s Scope) Allows(cls *catalog.Classification) bool {
	if cls == nil || !cls.Known() {
		return false
	}
	if cls.Op.Auth == catalog.AuthNone {
		return true
	}
	if cls.Scope != catalog.ScopeOne || cls.DAGID == "" || cls.DAGID == "~" {
		return false
	}
	for _, it := range s {
		if it.Action.covers(cls.Op) && it.Matches(cls.DAGID) {
			return true
		}
	}
	return false
}

// probe returns the classification of a request for operation op on one
// DAG, as the catalogue would classify it, for deciding an operation ahead
// of any request. Path parameters other than dag_id get a placeholder.
func probe(cat *catalog.Catalog, op *catalog.Operation, dagID string) catalog.Classification {
	segs := strings.Split(op.Path, "/")
	for i, s := range segs {
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			if s == "{dag_id}" {
				segs[i] = url.PathEscape(dagID)
			} else if s == "{map_index}" || s == "{try_number}" {
				segs[i] = "0"
			} else {
				segs[i] = "airgate-probe"
			}
		}
	}
	return cat.Classify(op.Method, strings.Join(segs, "/"), "")
}
