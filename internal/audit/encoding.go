package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatVersion is the version of the canonical record encoding this
// package writes: the first byte of every payload.
const FormatVersion = 1

// Domain-separation prefixes, as RFC 6962 uses 0x00 for leaves and 0x01 for
// nodes, so that a record hash, a link hash and a checkpoint message can
// never be mistaken for one another.
const (
	prefixRecord     = 0x00
	prefixLink       = 0x01
	prefixCheckpoint = 0x02
)

// Field tags of format version 1, in the order they are encoded.
const (
	tagSeq              = 0x01
	tagTime             = 0x02
	tagKind             = 0x03
	tagRequestID        = 0x04
	tagPrincipalKind    = 0x10
	tagTenantID         = 0x11
	tagObjectID         = 0x12
	tagUPN              = 0x13
	tagAppID            = 0x14
	tagDisplayName      = 0x15
	tagActor            = 0x16
	tagSourceIP         = 0x20
	tagMethod           = 0x21
	tagPath             = 0x22
	tagOperation        = 0x23
	tagDAGID            = 0x24
	tagDecision         = 0x30
	tagReasons          = 0x31
	tagRules            = 0x32
	tagTokenFingerprint = 0x33
	tagExchangeID       = 0x34
	tagRef              = 0x40
	tagStatus           = 0x41
	tagDAGRunID         = 0x42
	tagLatency          = 0x43
	tagDetail           = 0x50
)

// Hash is a SHA-256 hash in the chain. The zero Hash is the genesis value:
// the previous hash of record 1.
type Hash [32]byte

// String returns h in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits of h, for summaries.
func (h Hash) Short() string { return h.String()[:12] }

// MarshalText encodes h as lower-case hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("audit: hash must be %d hex digits, got %d", 2*len(h), len(b))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("audit: bad hash: %w", err)
	}
	return nil
}

// RecordHash returns SHA-256(0x00 || payload), the hash of one record's
// canonical encoding.
func RecordHash(payload []byte) Hash {
	h := sha256.New()
	h.Write([]byte{prefixRecord})
	h.Write(payload)
	var out Hash
	h.Sum(out[:0])
	return out
}

// LinkHash returns SHA-256(0x01 || prev || recordHash): the chain hash of a
// record whose predecessor's chain hash is prev. It is what a record stores
// as its own hash and its successor stores as its previous hash.
func LinkHash(prev, recordHash Hash) Hash {
	var buf [1 + 2*len(Hash{})]byte
	buf[0] = prefixLink
	copy(buf[1:], prev[:])
	copy(buf[1+len(prev):], recordHash[:])
	return sha256.Sum256(buf[:])
}

// appendBody appends the canonical encoding of every field of rec but Seq
// (tags 0x02 and up). A payload is the version byte, the Seq field and the
// body; splitting it lets callers encode before the sequence is known.
func appendBody(b []byte, rec *Record) []byte {
	b = appendInt(b, tagTime, rec.Time.UnixNano())
	b = appendString(b, tagKind, string(rec.Kind))
	b = appendString(b, tagRequestID, rec.RequestID)
	p := &rec.Principal
	b = appendString(b, tagPrincipalKind, string(p.Kind))
	b = appendString(b, tagTenantID, p.TenantID)
	b = appendString(b, tagObjectID, p.ObjectID)
	b = appendString(b, tagUPN, p.UPN)
	b = appendString(b, tagAppID, p.AppID)
	b = appendString(b, tagDisplayName, p.DisplayName)
	b = appendString(b, tagActor, p.Actor)
	b = appendString(b, tagSourceIP, rec.SourceIP)
	b = appendString(b, tagMethod, rec.Method)
	b = appendString(b, tagPath, rec.Path)
	b = appendString(b, tagOperation, rec.Operation)
	b = appendString(b, tagDAGID, rec.DAGID)
	b = appendString(b, tagDecision, string(rec.Decision))
	b = appendList(b, tagReasons, rec.Reasons)
	b = appendList(b, tagRules, rec.Rules)
	b = appendString(b, tagTokenFingerprint, rec.TokenFingerprint)
	b = appendString(b, tagExchangeID, rec.ExchangeID)
	b = appendInt(b, tagRef, int64(rec.Ref))
	b = appendInt(b, tagStatus, int64(rec.Status))
	b = appendString(b, tagDAGRunID, rec.DAGRunID)
	b = appendInt(b, tagLatency, int64(rec.Latency))
	b = appendMap(b, tagDetail, rec.Detail)
	return b
}

// payloadHeaderLen is the length of the version byte and the Seq field.
const payloadHeaderLen = 1 + 1 + 8

// appendPayload appends the full canonical encoding of a record with
// sequence number seq and the given body.
func appendPayload(b []byte, seq uint64, body []byte) []byte {
	b = append(b, FormatVersion, tagSeq)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, body...)
}

// Encode returns the canonical encoding of rec (format version 1) as stored
// and hashed; rec.Seq must be set. See the package documentation for the
// format.
func Encode(rec Record) []byte {
	body := appendBody(nil, &rec)
	return appendPayload(make([]byte, 0, payloadHeaderLen+len(body)), rec.Seq, body)
}

func appendInt(b []byte, tag byte, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, tag)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendString(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, tag)
	return appendBytes(b, s)
}

func appendBytes(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendList(b []byte, tag byte, l []string) []byte {
	if len(l) == 0 {
		return b
	}
	b = append(b, tag)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
	for _, s := range l {
		b = appendBytes(b, s)
	}
	return b
}

func appendMap(b []byte, tag byte, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte-wise order, as strings compare in Go
	b = append(b, tag)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, k)
		b = appendBytes(b, m[k])
	}
	return b
}

// errNotCanonical is wrapped by Decode for payloads that decode but are not
// the canonical encoding of what they hold.
var errNotCanonical = errors.New("not the canonical encoding")

// Decode parses a canonical payload. It accepts only the exact bytes Encode
// produces for a valid record: anything else (unknown version or tag, fields
// out of order, trailing bytes, invalid strings) is an error.
func Decode(payload []byte) (Record, error) {
	rec, err := decode(payload)
	if err != nil {
		return Record{}, fmt.Errorf("audit: decoding record: %w", err)
	}
	return rec, nil
}

func decode(p []byte) (Record, error) {
	var rec Record
	if len(p) == 0 {
		return rec, errors.New("empty payload")
	}
	if p[0] != FormatVersion {
		return rec, fmt.Errorf("unknown format version %d", p[0])
	}
	if len(p) > MaxRecordSize+payloadHeaderLen {
		return rec, fmt.Errorf("payload of %d bytes is too large", len(p))
	}
	d := decoder{b: p[1:]}
	last := -1
	var seen [256]bool
	for len(d.b) > 0 && d.err == nil {
		tag := d.b[0]
		d.b = d.b[1:]
		if int(tag) <= last {
			return rec, fmt.Errorf("field 0x%02x out of order", tag)
		}
		last = int(tag)
		seen[tag] = true
		switch tag {
		case tagSeq:
			rec.Seq = uint64(d.int())
		case tagTime:
			rec.Time = time.Unix(0, d.int()).UTC()
		case tagKind:
			rec.Kind = Kind(d.string())
		case tagRequestID:
			rec.RequestID = d.string()
		case tagPrincipalKind:
			rec.Principal.Kind = PrincipalKind(d.string())
		case tagTenantID:
			rec.Principal.TenantID = d.string()
		case tagObjectID:
			rec.Principal.ObjectID = d.string()
		case tagUPN:
			rec.Principal.UPN = d.string()
		case tagAppID:
			rec.Principal.AppID = d.string()
		case tagDisplayName:
			rec.Principal.DisplayName = d.string()
		case tagActor:
			rec.Principal.Actor = d.string()
		case tagSourceIP:
			rec.SourceIP = d.string()
		case tagMethod:
			rec.Method = d.string()
		case tagPath:
			rec.Path = d.string()
		case tagOperation:
			rec.Operation = d.string()
		case tagDAGID:
			rec.DAGID = d.string()
		case tagDecision:
			rec.Decision = Decision(d.string())
		case tagReasons:
			rec.Reasons = d.list()
		case tagRules:
			rec.Rules = d.list()
		case tagTokenFingerprint:
			rec.TokenFingerprint = d.string()
		case tagExchangeID:
			rec.ExchangeID = d.string()
		case tagRef:
			rec.Ref = uint64(d.int())
		case tagStatus:
			v := d.int()
			if int64(int(v)) != v {
				return rec, errors.New("status out of range")
			}
			rec.Status = int(v)
		case tagDAGRunID:
			rec.DAGRunID = d.string()
		case tagLatency:
			rec.Latency = time.Duration(d.int())
		case tagDetail:
			rec.Detail = d.dict()
		default:
			return rec, fmt.Errorf("unknown field 0x%02x", tag)
		}
	}
	if d.err != nil {
		return rec, d.err
	}
	if !seen[tagSeq] || !seen[tagTime] || !seen[tagKind] {
		return rec, errors.New("missing seq, time or kind")
	}
	if err := validate(&rec); err != nil {
		return rec, err
	}
	if !bytes.Equal(Encode(rec), p) {
		return rec, errNotCanonical
	}
	return rec, nil
}

// decoder reads fields of a payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated %s", what)
	}
	d.b = nil
}

func (d *decoder) int() int64 {
	if len(d.b) < 8 {
		d.fail("integer")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

func (d *decoder) count() int {
	if len(d.b) < 4 {
		d.fail("length")
		return 0
	}
	n := uint64(binary.BigEndian.Uint32(d.b))
	d.b = d.b[4:]
	if n > uint64(len(d.b)) {
		d.fail("field")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		d.err = errors.New("string is not valid UTF-8 without NUL")
	}
	return s
}

func (d *decoder) list() []string {
	n := d.count() // each element takes at least 4 bytes, so n is bounded by len(d.b)
	if d.err != nil {
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		l = append(l, d.string())
		if d.err != nil {
			return nil
		}
	}
	return l
}

func (d *decoder) dict() map[string]string {
	n := d.count()
	if d.err != nil {
		return nil
	}
	m := make(map[string]string, min(n, 64))
	prev := ""
	for i := range n {
		k := d.string()
		v := d.string()
		if d.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			d.err = errors.New("detail keys out of order")
			return nil
		}
		prev = k
		m[k] = v
	}
	return m
}
