package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Export formats.
const (
	// FormatJSONL writes one JSON object per line: a header, the public
	// keys recorded in the database, the checkpoints over the range, then
	// the records with their chain fields (seq, prev_hash, hash and the
	// canonical payload in base64), so that [VerifyExport] can re-verify
	// the export offline.
	FormatJSONL = "jsonl"
	// FormatCSV writes a header row and one row per record, chain fields
	// included, for SIEMs that want CSV. It carries no checkpoints.
	FormatCSV = "csv"
)

// exportFormatName identifies airgate audit exports in their header line.
const exportFormatName = "airgate-audit-export"

// ExportOptions selects what [Log.Export] writes.
type ExportOptions struct {
	Format string // FormatJSONL or FormatCSV
	// Since and Until bound record times; the export is the contiguous
	// sequence range from the first record at or after Since to the last
	// record before Until, so that it can be verified as a segment. Zero
	// means unbounded.
	Since, Until time.Time
}

// ExportSummary says what an export holds.
type ExportSummary struct {
	Records     uint64
	First, Last uint64
	Checkpoints int
}

// JSONL line shapes.
type (
	exportHeader struct {
		Type    string `json:"type"` // "header"
		Format  string `json:"format"`
		Version int    `json:"version"`
		First   uint64 `json:"first"`
		Last    uint64 `json:"last"`
	}
	exportKey struct {
		Type string `json:"type"` // "key"
		jwk
	}
	exportCheckpoint struct {
		Type string `json:"type"` // "checkpoint"
		Checkpoint
	}
	exportRecord struct {
		Type string `json:"type"` // "record"
		Record
		PrevHash Hash   `json:"prev_hash"`
		Hash     Hash   `json:"hash"`
		Payload  []byte `json:"payload"`
	}
)

// Export writes the records selected by opts to w. It reads a consistent
// range: records appended while it runs are not included.
func (l *Log) Export(ctx context.Context, w io.Writer, opts ExportOptions) (ExportSummary, error) {
	var sum ExportSummary
	if opts.Format != FormatJSONL && opts.Format != FormatCSV {
		return sum, fmt.Errorf("audit: unknown export format %q", opts.Format)
	}
	f := Filter{Since: opts.Since, Until: opts.Until}
	where, args := f.where()
	var first, last sql.NullInt64
	if err := l.db.QueryRowContext(ctx, l.d.rebind(`SELECT min(seq), max(seq) FROM audit_records`+where), args...).Scan(&first, &last); err != nil {
		return sum, fmt.Errorf("audit: exporting: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	jw := jsonlWriter{enc}
	if opts.Format == FormatJSONL {
		keys, err := l.Keys(ctx)
		if err != nil {
			return sum, err
		}
		if err := jw.header(uint64(first.Int64), uint64(last.Int64), keys); err != nil {
			return sum, err
		}
	} else {
		cw = csv.NewWriter(bw)
		if err := cw.Write(csvHeader); err != nil {
			return sum, fmt.Errorf("audit: exporting: %w", err)
		}
	}
	if !first.Valid {
		return sum, flush(bw, cw)
	}
	sum.First, sum.Last = uint64(first.Int64), uint64(last.Int64)
	if opts.Format == FormatJSONL {
		// The checkpoint over the record before the range anchors it.
		cps, err := l.checkpoints(ctx, sum.First-1, sum.Last)
		if err != nil {
			return sum, err
		}
		for _, c := range cps {
			if err := jw.checkpoint(c); err != nil {
				return sum, err
			}
		}
		sum.Checkpoints = len(cps)
	}
	err := l.scanRecords(ctx, selectRecords+` WHERE seq >= ? AND seq <= ? ORDER BY seq`, []any{first.Int64, last.Int64}, func(e rawEntry) error {
		ent, err := e.entry()
		if err != nil {
			return err
		}
		sum.Records++
		if cw != nil {
			if err := cw.Write(csvRow(&ent)); err != nil {
				return fmt.Errorf("audit: exporting: %w", err)
			}
			return nil
		}
		return jw.record(&ent)
	})
	if err != nil {
		return sum, err
	}
	return sum, flush(bw, cw)
}

// jsonlWriter writes the lines of a JSONL export.
type jsonlWriter struct{ enc *json.Encoder }

func (w jsonlWriter) header(first, last uint64, keys KeySet) error {
	if err := w.enc.Encode(exportHeader{Type: "header", Format: exportFormatName, Version: FormatVersion, First: first, Last: last}); err != nil {
		return fmt.Errorf("audit: exporting: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		k := exportKey{Type: "key", jwk: jwk{Kty: "OKP", Crv: "Ed25519", Kid: id, X: base64.RawURLEncoding.EncodeToString(keys[id])}}
		if err := w.enc.Encode(k); err != nil {
			return fmt.Errorf("audit: exporting: %w", err)
		}
	}
	return nil
}

func (w jsonlWriter) checkpoint(c Checkpoint) error {
	if err := w.enc.Encode(exportCheckpoint{Type: "checkpoint", Checkpoint: c}); err != nil {
		return fmt.Errorf("audit: exporting: %w", err)
	}
	return nil
}

func (w jsonlWriter) record(e *Entry) error {
	if err := w.enc.Encode(exportRecord{Type: "record", Record: e.Record, PrevHash: e.PrevHash, Hash: e.Hash, Payload: e.Payload}); err != nil {
		return fmt.Errorf("audit: exporting: %w", err)
	}
	return nil
}

func flush(bw *bufio.Writer, cw *csv.Writer) error {
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("audit: exporting: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: exporting: %w", err)
	}
	return nil
}

var csvHeader = []string{
	"seq", "time", "kind", "request_id",
	"principal_kind", "tenant_id", "object_id", "upn", "app_id", "display_name", "actor",
	"source_ip", "method", "path", "operation", "dag_id", "decision", "reasons", "rules",
	"token_fingerprint", "exchange_id", "ref", "status", "dag_run_id", "latency_ns", "detail",
	"prev_hash", "hash", "payload",
}

func csvRow(e *Entry) []string {
	r := &e.Record
	num := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	detail := ""
	if len(r.Detail) > 0 {
		b, _ := json.Marshal(r.Detail) // map[string]string cannot fail
		detail = string(b)
	}
	return []string{
		strconv.FormatUint(r.Seq, 10), r.Time.Format(time.RFC3339Nano), string(r.Kind), r.RequestID,
		string(r.Principal.Kind), r.Principal.TenantID, r.Principal.ObjectID, r.Principal.UPN, r.Principal.AppID,
		r.Principal.DisplayName, r.Principal.Actor,
		r.SourceIP, r.Method, r.Path, r.Operation, r.DAGID, string(r.Decision),
		strings.Join(r.Reasons, ";"), strings.Join(r.Rules, ";"),
		r.TokenFingerprint, r.ExchangeID, num(int64(r.Ref)), num(int64(r.Status)), r.DAGRunID, num(int64(r.Latency)), detail,
		e.PrevHash.String(), e.Hash.String(), base64.StdEncoding.EncodeToString(e.Payload),
	}
}

// maxExportLine bounds one line of an export.
const maxExportLine = 4*MaxRecordSize + 64<<10

// ExportContents is what an export holds besides its records.
type ExportContents struct {
	Keys KeySet // the keys recorded in the exporting database (not pinned)
}

// VerifyExport verifies a JSON lines export (see [FormatJSONL]) as
// [Log.Verify] does a database, and also checks that each record's exported
// fields agree with its hashed payload. An export of a range starting after
// record 1 is verified as a segment: its first link is proven only by a
// checkpoint over the record before it (Report.Anchored).
//
// keys should be pinned; with nil keys, the keys the export itself carries
// are used, which proves nothing against a deliberate forgery.
func VerifyExport(ctx context.Context, r io.Reader, keys KeySet) (Report, ExportContents, error) {
	var contents ExportContents
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	var (
		v       *verifier
		cps     []Checkpoint
		fileKey = KeySet{}
		line    int
		header  bool
	)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("audit: export line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		if line%1024 == 0 && ctx.Err() != nil {
			return Report{}, contents, ctx.Err()
		}
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var t struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &t); err != nil {
			return Report{}, contents, bad("%v", err)
		}
		if !header && t.Type != "header" {
			return Report{}, contents, bad("not an %s: no header", exportFormatName)
		}
		if v != nil && t.Type != "record" {
			return Report{}, contents, bad("%s after the first record", t.Type)
		}
		switch t.Type {
		case "header":
			if header {
				return Report{}, contents, bad("second header")
			}
			var h exportHeader
			if err := json.Unmarshal(b, &h); err != nil {
				return Report{}, contents, bad("%v", err)
			}
			if h.Format != exportFormatName || h.Version != FormatVersion {
				return Report{}, contents, bad("unsupported export %q version %d", h.Format, h.Version)
			}
			header = true
		case "key":
			var k exportKey
			if err := json.Unmarshal(b, &k); err != nil {
				return Report{}, contents, bad("%v", err)
			}
			one, err := json.Marshal(jwks{Keys: []jwk{k.jwk}})
			if err == nil {
				err = fileKey.UnmarshalJSON(one)
			}
			if err != nil {
				return Report{}, contents, bad("%v", err)
			}
		case "checkpoint":
			var c exportCheckpoint
			if err := json.Unmarshal(b, &c); err != nil {
				return Report{}, contents, bad("%v", err)
			}
			cps = append(cps, c.Checkpoint)
		case "record":
			var rec exportRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				return Report{}, contents, bad("%v", err)
			}
			if v == nil {
				if keys == nil {
					keys = fileKey
				}
				v = newVerifier(keys, cps, true)
			}
			fields := rec.Record
			e := rawEntry{seq: rec.Seq, payload: rec.Payload, prevHash: rec.PrevHash[:], hash: rec.Hash[:], fields: &fields}
			if err := v.add(e); err != nil {
				return v.rep, contents, err
			}
		default:
			return Report{}, contents, bad("unknown line type %q", t.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return Report{}, contents, fmt.Errorf("audit: reading export: %w", err)
	}
	contents.Keys = fileKey
	if !header {
		return Report{}, contents, errors.New("audit: empty export")
	}
	if v == nil {
		if keys == nil {
			keys = fileKey
		}
		v = newVerifier(keys, cps, true)
	}
	rep, err := v.finish()
	return rep, contents, err
}
