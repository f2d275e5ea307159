// Package audit is airgate's tamper-evident audit trail: an append-only,
// hash-chained log of every gateway decision and its outcome, of token
// exchanges, secret rotations and config reloads, with signed checkpoints,
// a verifier, queries and exports. It is a leaf package: it imports no other
// airgate package.
//
// # Writing
//
// [Open] a [Log] on an SQLite file (the default, [DefaultDSN]) or a
// PostgreSQL URL, with a [Signer] for checkpoints, and call [Log.Append]
// for each [Record]. Append is strict: it returns only once the record is
// committed durably, and fails closed: an error means the caller must not
// act as if it had been recorded. [Log.AppendAsync] acknowledges decision
// records of denials and reads once queued (see its documentation for
// exactly what that guarantees). One writer goroutine per Log batches
// concurrent appends into one transaction (group commit): once it has a
// record it lets goroutines that are ready to run queue theirs too
// ([Options.Linger]), and, under load, waits a little longer for a batch
// of records nobody waits for ([Options.AsyncLinger]); a lone Append is
// committed at once. The writer runs every transaction on a connection of
// its own with statements prepared once. Several processes on one
// PostgreSQL database append to a single chain, serialised by a row lock
// taken in each transaction before the head is read; several processes on
// one SQLite file are serialised by its write lock (BEGIN IMMEDIATE), and
// a writer that keeps the head in memory reads it again whenever PRAGMA
// data_version shows that another connection committed. Records
// are never updated or deleted: no code path does, and triggers refuse
// UPDATE and DELETE (and TRUNCATE in PostgreSQL) of records, checkpoints
// and keys. Retention is by [Log.Export] of a range, which the verifier
// checks offline ([VerifyExport]).
//
// # Canonical encoding (format version 1)
//
// A record's payload is the byte 0x01 (the format version) followed by its
// fields in ascending tag order, each as a one-byte tag and a value. Fields
// whose value is zero (0, "", empty list or map) are omitted; seq, time and
// kind are always present. Values: integers are 8 bytes big-endian two's
// complement; strings are a 4-byte big-endian length and UTF-8 bytes (valid
// UTF-8, no NUL); lists are a 4-byte count and that many strings; maps are
// a 4-byte count and key, value string pairs in strictly ascending byte
// order of keys. Tags:
//
//	0x01 seq (int)          0x20 source_ip        0x30 decision
//	0x02 time (int, Unix ns) 0x21 method           0x31 reasons (list)
//	0x03 kind               0x22 path             0x32 rules (list)
//	0x04 request_id         0x23 operation        0x33 token_fingerprint
//	0x10 principal.kind     0x24 dag_id           0x34 exchange_id
//	0x11 principal.tenant_id                      0x40 ref (int)
//	0x12 principal.object_id                      0x41 status (int)
//	0x13 principal.upn                            0x42 dag_run_id
//	0x14 principal.app_id                         0x43 latency (int, ns)
//	0x15 principal.display_name                   0x50 detail (map)
//	0x16 principal.actor
//
// Exactly one byte string encodes a given record; [Decode] rejects any
// other. testdata/vectors.golden holds worked examples.
//
// # Hashes and checkpoints
//
// With H = SHA-256 and distinct one-byte domain prefixes (as RFC 6962 uses
// 0x00 for leaves and 0x01 for nodes):
//
//	record hash  r[n] = H(0x00 || payload[n])                       RecordHash
//	chain hash   h[n] = H(0x01 || h[n-1] || r[n]),  h[0] = 32 zero bytes   LinkHash
//
// Each record stores h[n-1] (prev_hash) and h[n] (hash). A checkpoint is an
// Ed25519 signature over 0x02 || "airgate-audit-checkpoint-v1" || seq ||
// h[seq] || time || key id (see [Checkpoint.Message]), written every
// Options.CheckpointEvery records or Options.CheckpointInterval, and on
// Close. Because h[seq] commits to every earlier record, a valid checkpoint
// makes any change to records up to seq detectable even if all hashes were
// recomputed, and a chain ending before seq truncated. Records after the
// newest checkpoint are chained but unsigned: their removal from the tail is
// not detectable, which the checkpoint interval bounds.
//
// # Verifying
//
// [Log.Verify] and [VerifyExport] recompute the chain and return a
// *[VerifyError] naming the first bad record and the [Problem]. They trust
// exactly the [KeySet] given; keys recorded in the database itself are a
// convenience, not a trust anchor.
package audit
