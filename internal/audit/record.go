package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind names what a record is about. Kinds are short lower-case codes; the
// ones below are those airgate writes. A kind outside this list is accepted
// if it matches [a-z0-9-]{1,64}.
type Kind string

// Record kinds.
const (
	// KindDecision is a gateway decision, written before the request
	// reaches Airflow; or, for a read in the gateway's fast mode, once
	// Airflow's answer arrives and before it is passed on, carrying the
	// outcome itself (Status, Latency) instead of an outcome record.
	KindDecision Kind = "decision"
	// KindOutcome completes a decision after Airflow answered: Status,
	// DAGRunID and Latency, with Ref naming the decision's sequence number.
	KindOutcome Kind = "outcome"
	// KindTokenExchange is an RFC 8693 token exchange (ExchangeID set).
	KindTokenExchange Kind = "token-exchange"
	// KindSecretRotation is a rotation of a secret; Detail says which.
	KindSecretRotation Kind = "secret-rotation"
	// KindConfigReload is a configuration reload; Detail says what changed.
	KindConfigReload Kind = "config-reload"
)

// Decision is the verdict of a decision record.
type Decision string

// Decisions.
const (
	DecisionAllow Decision = "allow"
	DecisionDeny  Decision = "deny"
)

// PrincipalKind says what kind of caller a principal is.
type PrincipalKind string

// Principal kinds, as in airgate's vocabulary (see DESIGN.md).
const (
	PrincipalUser  PrincipalKind = "user"  // a person, signed in through Entra ID
	PrincipalApp   PrincipalKind = "app"   // a client-credentials token, no user
	PrincipalAgent PrincipalKind = "agent" // an airgate-minted token, possibly acting for a user
)

// Principal is who made a request, as recorded. It holds identifiers only:
// never a token, a secret or an unverified claim. The zero Principal means
// the caller was not identified (for example a request denied for missing
// credentials).
type Principal struct {
	Kind        PrincipalKind `json:"kind,omitempty"`
	TenantID    string        `json:"tenant_id,omitempty"`
	ObjectID    string        `json:"object_id,omitempty"` // Entra object id (oid)
	UPN         string        `json:"upn,omitempty"`       // user principal name, for users
	AppID       string        `json:"app_id,omitempty"`    // application (client) id, for apps and agents
	DisplayName string        `json:"display_name,omitempty"`
	// Actor identifies the party acting for this principal with an
	// exchanged token (the "act" claim's subject, e.g. an agent's app id);
	// empty when the principal acts for itself.
	Actor string `json:"actor,omitempty"`
}

// Record is one entry of the audit chain. The gateway fills it and hands it
// to [Log.Append]; the log assigns Seq and, when Time is zero, Time.
//
// Every field is covered by the record's hash through its canonical
// encoding (see the package documentation). Zero values mean "not
// applicable" and are not encoded; a nil and an empty slice or map are the
// same. Strings are stored as valid UTF-8 without NUL bytes: Append replaces
// invalid sequences and NUL with U+FFFD.
//
// Records MUST NOT carry tokens, secrets or unverified claims: store a
// [TokenFingerprint] of a token, never the token.
type Record struct {
	// Seq is the record's position in the chain, from 1, assigned by the log.
	Seq uint64 `json:"seq"`
	// Time is when the event happened, stored in UTC with nanoseconds.
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	RequestID string    `json:"request_id,omitempty"`
	Principal Principal `json:"principal,omitzero"`
	SourceIP  string    `json:"source_ip,omitempty"`
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path,omitempty"`      // raw request path, without the query
	Operation string    `json:"operation,omitempty"` // Airflow operationId
	DAGID     string    `json:"dag_id,omitempty"`
	Decision  Decision  `json:"decision,omitempty"`
	// Reasons are machine-readable reason codes (e.g. "no-matching-role").
	Reasons []string `json:"reasons,omitempty"`
	// Rules are the policy rules that matched.
	Rules []string `json:"rules,omitempty"`
	// TokenFingerprint identifies the credential without revealing it; see
	// [TokenFingerprint].
	TokenFingerprint string `json:"token_fingerprint,omitempty"`
	// ExchangeID links requests made with an exchanged token to the
	// token-exchange record that minted it.
	ExchangeID string `json:"exchange_id,omitempty"`
	// Ref is the sequence number of the record this one completes: an
	// outcome's decision. Zero when there is none or it is not known.
	Ref      uint64        `json:"ref,omitempty"`
	Status   int           `json:"status,omitempty"` // HTTP status Airflow (or airgate) answered
	DAGRunID string        `json:"dag_run_id,omitempty"`
	Latency  time.Duration `json:"latency_ns,omitempty"`
	// Detail carries kind-specific facts as short strings, e.g. for a
	// secret rotation {"secret": "airflow-basic", "version": "7"}.
	Detail map[string]string `json:"detail,omitempty"`
}

// Limits on records. A record over them is refused by Append with
// [ErrInvalidRecord].
const (
	// MaxRecordSize bounds a record's canonical encoding.
	MaxRecordSize = 64 << 10
	maxKindLen    = 64
	maxFPLen      = 128
)

// ErrInvalidRecord is returned (wrapped) by Append for a record that cannot
// be stored: an unknown decision, a time out of range, too large, or a token
// where a fingerprint belongs.
var ErrInvalidRecord = errors.New("audit: invalid record")

// TokenFingerprint returns a short identifier for a bearer token or other
// credential: "sha256:" and the first 16 bytes of its SHA-256 in hex. It is
// safe to record: it identifies a token already seen without revealing it.
func TokenFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// minTime and maxTime bound record times so that they fit the canonical
// encoding's int64 nanoseconds and sort sensibly.
var (
	minTime = time.Unix(1, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// normalize makes rec storable in place: UTC time without monotonic
// reading, valid UTF-8 strings without NUL, nil empty slices and maps.
func normalize(rec *Record) {
	rec.Time = rec.Time.Round(0).UTC()
	for _, s := range []*string{
		&rec.RequestID, &rec.SourceIP, &rec.Method, &rec.Path, &rec.Operation, &rec.DAGID,
		&rec.TokenFingerprint, &rec.ExchangeID, &rec.DAGRunID,
		&rec.Principal.TenantID, &rec.Principal.ObjectID, &rec.Principal.UPN,
		&rec.Principal.AppID, &rec.Principal.DisplayName, &rec.Principal.Actor,
	} {
		*s = cleanString(*s)
	}
	rec.Reasons = cleanList(rec.Reasons)
	rec.Rules = cleanList(rec.Rules)
	if len(rec.Detail) == 0 {
		rec.Detail = nil
	} else {
		d := make(map[string]string, len(rec.Detail))
		for k, v := range rec.Detail {
			d[cleanString(k)] = cleanString(v)
		}
		rec.Detail = d
	}
}

func cleanString(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func cleanList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	out := l
	for i, s := range l {
		if c := cleanString(s); c != s {
			if &out[0] == &l[0] {
				out = append([]string(nil), l...)
			}
			out[i] = c
		}
	}
	return out
}

// validate reports why rec cannot be stored. It expects a normalized record
// and is also what the verifier applies to decoded records.
func validate(rec *Record) error {
	if rec.Time.Before(minTime) || !rec.Time.Before(maxTime) {
		return fmt.Errorf("time %s out of range", rec.Time.Format(time.RFC3339Nano))
	}
	if !validKind(string(rec.Kind)) {
		return fmt.Errorf("kind %q is not [a-z0-9-]{1,%d}", rec.Kind, maxKindLen)
	}
	switch rec.Decision {
	case "":
		if rec.Kind == KindDecision {
			return errors.New("decision record without a decision")
		}
	case DecisionAllow, DecisionDeny:
	default:
		return fmt.Errorf("decision %q is not allow or deny", rec.Decision)
	}
	switch rec.Principal.Kind {
	case "", PrincipalUser, PrincipalApp, PrincipalAgent:
	default:
		return fmt.Errorf("principal kind %q is not user, app or agent", rec.Principal.Kind)
	}
	if fp := rec.TokenFingerprint; len(fp) > maxFPLen || strings.Count(fp, ".") >= 2 {
		// A JWT has two dots; a fingerprint never does. Refuse to store
		// what looks like a token rather than its fingerprint.
		return errors.New("token fingerprint looks like a token")
	}
	for k, v := range rec.Detail {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return errors.New("detail is not valid UTF-8")
		}
	}
	return nil
}

func validKind(k string) bool {
	if len(k) == 0 || len(k) > maxKindLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// asyncEligible reports whether rec may be acknowledged before it is
// durable: decision records of denials and of reads.
func asyncEligible(rec *Record) bool {
	if rec.Kind != KindDecision {
		return false
	}
	if rec.Decision == DecisionDeny {
		return true
	}
	switch rec.Method {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
}
