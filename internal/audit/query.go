package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Filter selects records for [Log.Query]. Zero fields match everything.
type Filter struct {
	// User matches the principal's UPN (case-insensitively), object id or
	// app id.
	User      string
	DAGID     string
	Decision  Decision
	Operation string
	Kind      Kind
	// Since (inclusive) and Until (exclusive) bound the record time.
	Since, Until time.Time
	// Limit bounds the number of records; 0 means no limit.
	Limit int
}

// Entry is a stored record with its place in the chain.
type Entry struct {
	Record          // decoded from Payload; Seq is set
	PrevHash Hash   // chain hash of the previous record
	Hash     Hash   // this record's chain hash
	Payload  []byte // canonical encoding, as hashed
}

// where builds the WHERE clause for f, with ? placeholders.
func (f *Filter) where() (string, []any) {
	var conds []string
	var args []any
	if f.User != "" {
		conds = append(conds, "(lower(upn) = lower(?) OR object_id = ? OR app_id = ?)")
		args = append(args, f.User, f.User, f.User)
	}
	add := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	add("dag_id", f.DAGID)
	add("decision", string(f.Decision))
	add("operation", f.Operation)
	add("kind", string(f.Kind))
	if !f.Since.IsZero() {
		conds = append(conds, "time_ns >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time_ns < ?")
		args = append(args, f.Until.UnixNano())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Query calls fn for each record matching f, in sequence order, stopping at
// the first error fn returns. Query reads the index columns and decodes each
// payload; it does not verify the chain (that is [Log.Verify]'s job), so a
// tampered database can mislead it.
func (l *Log) Query(ctx context.Context, f Filter, fn func(Entry) error) error {
	where, args := f.where()
	q := selectRecords + where + " ORDER BY seq"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return l.scanRecords(ctx, q, args, func(e rawEntry) error {
		ent, err := e.entry()
		if err != nil {
			return err
		}
		return fn(ent)
	})
}

// entry decodes a raw entry.
func (e *rawEntry) entry() (Entry, error) {
	rec, err := decode(e.payload)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: record %d does not decode (run audit verify): %w", e.seq, err)
	}
	if rec.Seq != e.seq || len(e.prevHash) != len(Hash{}) || len(e.hash) != len(Hash{}) {
		return Entry{}, fmt.Errorf("audit: record %d is damaged (run audit verify)", e.seq)
	}
	return Entry{Record: rec, PrevHash: Hash(e.prevHash), Hash: Hash(e.hash), Payload: e.payload}, nil
}
