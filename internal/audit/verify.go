package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Problem is a machine-readable code for what the verifier found wrong.
type Problem string

// Problems, in the words `airgate audit verify` prints.
const (
	// ProblemEdited: a record's contents, hashes or index columns were
	// changed (or the record was rewritten with a recomputed hash, which
	// breaks the next record's link).
	ProblemEdited Problem = "edited"
	// ProblemRemoved: records are missing from the sequence.
	ProblemRemoved Problem = "removed"
	// ProblemReordered: a record sits at another position than its own.
	ProblemReordered Problem = "reordered"
	// ProblemTruncated: a signed checkpoint covers records past the end.
	ProblemTruncated Problem = "truncated"
	// ProblemRewritten: the chain is self-consistent but does not match a
	// signed checkpoint: it was recomputed after being changed.
	ProblemRewritten Problem = "rewritten"
	// ProblemBadSignature: a checkpoint's signature does not verify.
	ProblemBadSignature Problem = "bad-checkpoint-signature"
	// ProblemUnknownKey: a checkpoint names a key the verifier was not given.
	ProblemUnknownKey Problem = "unknown-checkpoint-key"
)

// VerifyError reports the first problem found in a chain: the record (or
// checkpoint) at Seq and what is wrong with it.
type VerifyError struct {
	Seq        uint64  // the first bad record; for checkpoint problems, the checkpoint's record
	Problem    Problem // what is wrong
	Checkpoint bool    // the problem is with the checkpoint at Seq, not the record
	Detail     string  // human-readable explanation
}

// Error returns "audit: record N: problem: detail".
func (e *VerifyError) Error() string {
	what := "record"
	if e.Checkpoint {
		what = "checkpoint at record"
	}
	return fmt.Sprintf("audit: %s %d: %s: %s", what, e.Seq, e.Problem, e.Detail)
}

// Report summarises an intact chain.
type Report struct {
	Records     uint64 // number of records verified
	First, Last uint64 // their sequence range; 0, 0 when empty
	Head        Hash   // chain hash of the last record
	Checkpoints int    // checkpoints verified
	// LastCheckpoint is the sequence number the newest checkpoint covers;
	// records after it are chained but not yet signed, so their removal
	// from the tail could not be detected.
	LastCheckpoint uint64
	// Anchored is false for a segment that starts after record 1 and has
	// no checkpoint over its starting point: its first link is trusted,
	// not proven.
	Anchored bool
}

// verifier checks a chain fed to it record by record, in order.
type verifier struct {
	keys    KeySet
	cps     []Checkpoint // sorted by Seq
	segment bool         // the first record may be after record 1

	rep      Report
	started  bool
	prevSeq  uint64
	prevHash Hash // computed chain hash of the previous record
	lastCP   uint64
}

func newVerifier(keys KeySet, cps []Checkpoint, segment bool) *verifier {
	cps = slices.Clone(cps)
	slices.SortStableFunc(cps, func(a, b Checkpoint) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return &verifier{keys: keys, cps: cps, segment: segment, rep: Report{Anchored: !segment}}
}

func (v *verifier) fail(seq uint64, p Problem, format string, args ...any) error {
	return &VerifyError{Seq: seq, Problem: p, Detail: fmt.Sprintf(format, args...)}
}

func (v *verifier) failCP(seq uint64, p Problem, format string, args ...any) error {
	return &VerifyError{Seq: seq, Problem: p, Checkpoint: true, Detail: fmt.Sprintf(format, args...)}
}

// checkSignature checks c's signature.
func (v *verifier) checkSignature(c *Checkpoint) error {
	switch err := c.verifySignature(v.keys); {
	case errors.Is(err, errUnknownKey):
		return v.failCP(c.Seq, ProblemUnknownKey, "signed by key %q, which is not among the trusted keys", c.KeyID)
	case err != nil:
		return v.failCP(c.Seq, ProblemBadSignature, "signature by key %q does not verify", c.KeyID)
	}
	return nil
}

// start handles the first record of a segment: its previous hash is the
// anchor, proven when a checkpoint covers the record before it.
func (v *verifier) start(e *rawEntry) error {
	v.started = true
	v.rep.First = e.seq
	if !v.segment || e.seq == 1 {
		v.rep.Anchored = true
		if e.seq != 1 {
			return v.missing(1, e.seq)
		}
		return nil
	}
	if len(e.prevHash) != len(Hash{}) {
		return v.fail(e.seq, ProblemEdited, "stored previous hash has %d bytes", len(e.prevHash))
	}
	copy(v.prevHash[:], e.prevHash)
	v.prevSeq = e.seq - 1
	for len(v.cps) > 0 && v.cps[0].Seq < v.prevSeq {
		v.cps = v.cps[1:] // before the segment: cannot be checked
	}
	return v.checkpointsAt(v.prevSeq, &v.rep.Anchored)
}

// checkpointsAt checks the checkpoints over record seq, whose chain hash is
// v.prevHash, and sets *matched when there was one.
func (v *verifier) checkpointsAt(seq uint64, matched *bool) error {
	for len(v.cps) > 0 && v.cps[0].Seq < seq {
		// A checkpoint over no record that was verified: seq 0, or
		// between records already reported missing.
		if err := v.checkSignature(&v.cps[0]); err != nil {
			return err
		}
		return v.failCP(v.cps[0].Seq, ProblemRewritten, "checkpoint does not fall on a record of the chain")
	}
	for len(v.cps) > 0 && v.cps[0].Seq == seq {
		c := &v.cps[0]
		if err := v.checkSignature(c); err != nil {
			return err
		}
		if c.Head != v.prevHash {
			if v.lastCP == 0 {
				return v.failCP(seq, ProblemRewritten, "signed head %s does not match the chain's %s: records up to %d were rewritten", c.Head.Short(), v.prevHash.Short(), seq)
			}
			return v.failCP(seq, ProblemRewritten, "signed head %s does not match the chain's %s: records after checkpoint %d were rewritten", c.Head.Short(), v.prevHash.Short(), v.lastCP)
		}
		v.lastCP = seq
		v.rep.Checkpoints++
		v.rep.LastCheckpoint = seq
		*matched = true
		v.cps = v.cps[1:]
	}
	return nil
}

// missing reports records from to next-1 missing.
func (v *verifier) missing(from, next uint64) error {
	if next == from+1 {
		return v.fail(from, ProblemRemoved, "record %d is missing (the next record is %d)", from, next)
	}
	return v.fail(from, ProblemRemoved, "records %d to %d are missing", from, next-1)
}

// add checks the next record.
func (v *verifier) add(e rawEntry) error {
	if !v.started {
		if err := v.start(&e); err != nil {
			return err
		}
	} else {
		want := v.prevSeq + 1
		switch {
		case e.seq > want:
			return v.missing(want, e.seq)
		case e.seq < want:
			return v.fail(e.seq, ProblemReordered, "record %d appears again after record %d", e.seq, v.prevSeq)
		}
	}
	seq := e.seq
	if len(e.prevHash) != len(Hash{}) || len(e.hash) != len(Hash{}) {
		return v.fail(seq, ProblemEdited, "stored hashes have %d and %d bytes, want %d", len(e.prevHash), len(e.hash), len(Hash{}))
	}
	storedPrev, stored := Hash(e.prevHash), Hash(e.hash)
	rh := RecordHash(e.payload)
	selfConsistent := LinkHash(storedPrev, rh) == stored

	rec, err := decode(e.payload)
	if err != nil {
		return v.fail(seq, ProblemEdited, "contents do not decode: %v", err)
	}
	if rec.Seq != seq {
		if selfConsistent {
			return v.fail(seq, ProblemReordered, "position %d holds record %d", seq, rec.Seq)
		}
		return v.fail(seq, ProblemEdited, "contents name sequence number %d", rec.Seq)
	}
	switch {
	case storedPrev == v.prevHash && selfConsistent:
		// intact
	case storedPrev != v.prevHash && seq == 1:
		return v.fail(seq, ProblemEdited, "previous hash is not the genesis value")
	case storedPrev != v.prevHash && selfConsistent && v.rep.Records > 0:
		// This record is whole but its link does not match the previous
		// record's hash: the previous record was rewritten together
		// with its own hash.
		return v.fail(seq-1, ProblemEdited, "its hash no longer matches the link stored in record %d: record rewritten", seq)
	case storedPrev != v.prevHash:
		return v.fail(seq, ProblemEdited, "stored previous hash does not match record %d", seq-1)
	default:
		return v.fail(seq, ProblemEdited, "contents do not match the stored hash")
	}
	if e.cols != nil {
		want := indexOf(&rec)
		if col := e.cols.diff(&want); col != "" {
			return v.fail(seq, ProblemEdited, "column %s differs from the hashed contents", col)
		}
	}
	if e.fields != nil {
		f := *e.fields
		f.Seq = seq
		normalize(&f)
		if !bytes.Equal(Encode(f), e.payload) {
			return v.fail(seq, ProblemEdited, "exported fields differ from the hashed payload")
		}
	}
	v.prevHash = LinkHash(v.prevHash, rh)
	v.prevSeq = seq
	v.rep.Records++
	v.rep.Last = seq
	v.rep.Head = v.prevHash
	var matched bool
	return v.checkpointsAt(seq, &matched)
}

// finish checks what remains after the last record: any checkpoint left
// covers records that are gone.
func (v *verifier) finish() (Report, error) {
	if len(v.cps) > 0 {
		c := &v.cps[0]
		if err := v.checkSignature(c); err != nil {
			return v.rep, err
		}
		after := "the first checkpoint"
		if v.lastCP > 0 {
			after = fmt.Sprintf("checkpoint %d", v.lastCP)
		}
		end := "the chain is empty"
		if v.started {
			end = fmt.Sprintf("the chain ends at record %d", v.prevSeq)
		}
		return v.rep, v.fail(v.prevSeq+1, ProblemTruncated, "after %s: %s but a signed checkpoint covers record %d",
			after, end, c.Seq)
	}
	return v.rep, nil
}

// Verify recomputes the whole chain from record 1, checks that every index
// column agrees with the hashed contents, and checks every checkpoint's
// signature against keys and its head against the chain. It returns a
// *[VerifyError] naming the first problem, or another error when the
// database could not be read.
//
// keys should be pinned: obtained from outside the database. With nil keys,
// Verify uses the keys recorded in the database itself ([Log.Keys]), which
// detects accidents and edits by someone who cannot also replace the keys,
// but NOT a deliberate rewrite of the whole database.
//
// Verify does not detect records removed from the tail after the last
// checkpoint (Report.LastCheckpoint), nor a rollback of the whole database
// with its checkpoints to an earlier state: compare with a checkpoint kept
// elsewhere for that.
func (l *Log) Verify(ctx context.Context, keys KeySet) (Report, error) {
	if keys == nil {
		var err error
		if keys, err = l.Keys(ctx); err != nil {
			return Report{}, err
		}
	}
	cps, err := l.Checkpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	v := newVerifier(keys, cps, false)
	if err := l.scanRecords(ctx, selectRecords+` ORDER BY seq`, nil, v.add); err != nil {
		return v.rep, err
	}
	return v.finish()
}

// verifyEntries verifies a chain given as entries in order; see
// [Log.Verify]. With segment set, the first entry may be after
// record 1; its previous hash is then trusted unless a checkpoint covers it
// (Report.Anchored).
func verifyEntries(entries []rawEntry, cps []Checkpoint, keys KeySet, segment bool) (Report, error) {
	v := newVerifier(keys, cps, segment)
	for _, e := range entries {
		if err := v.add(e); err != nil {
			return v.rep, err
		}
	}
	return v.finish()
}
