package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// vectorRecords are the records of the golden test vectors: one of each
// shape, every field used at least once.
func vectorRecords() []Record {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	return []Record{
		{Time: t0, Kind: KindConfigReload},
		{
			Time: t0.Add(time.Second), Kind: KindDecision, RequestID: "req-1",
			Principal: Principal{Kind: PrincipalAgent, TenantID: "tid", ObjectID: "oid", UPN: "ada@example.com",
				AppID: "appid", DisplayName: "Ada Lovelace", Actor: "agent-app"},
			SourceIP: "2001:db8::1", Method: "POST", Path: "/api/v2/dags/sales/dagRuns", Operation: "trigger_dag_run",
			DAGID: "sales", Decision: DecisionDeny, Reasons: []string{"mfa-required", "dag-not-in-scope"},
			Rules: []string{"role:Op"}, TokenFingerprint: TokenFingerprint("not a real token"), ExchangeID: "xchg-9",
		},
		{Time: t0.Add(2 * time.Second), Kind: KindOutcome, RequestID: "req-1", Ref: 2, Status: 403, Latency: 1500 * time.Microsecond},
		{Time: t0.Add(3 * time.Second), Kind: KindSecretRotation, DAGRunID: "manual__1",
			Detail: map[string]string{"version": "7", "secret": "airflow-basic", "é": "ü"}},
	}
}

// TestGoldenVectors pins the canonical encoding, the hashes, a checkpoint
// signature and the verifier's verdict on tampered variants. Run with
// -update after a deliberate format change (which needs a new
// FormatVersion).
func TestGoldenVectors(t *testing.T) {
	var b strings.Builder
	fmt.Fprintln(&b, "# airgate audit chain test vectors, format version", FormatVersion)
	fmt.Fprintln(&b, "# record_hash = SHA-256(0x00 || payload); chain_hash = SHA-256(0x01 || prev_hash || record_hash)")
	fmt.Fprintln(&b, "# checkpoint signature = Ed25519(key, message); key seed = 0x0b0c0d...")
	key := testKey(11)
	entries, cps := buildChain(vectorRecords(), key, 2)
	for _, e := range entries {
		rec, err := Decode(e.payload)
		if err != nil {
			t.Fatalf("Decode(record %d) = %v", e.seq, err)
		}
		js, _ := json.Marshal(rec)
		fmt.Fprintf(&b, "\nrecord %d\njson %s\npayload %x\nrecord_hash %s\nprev_hash %x\nchain_hash %x\n",
			e.seq, js, e.payload, RecordHash(e.payload), e.prevHash, e.hash)
	}
	pub, _ := publicKeyOf(key)
	fmt.Fprintf(&b, "\nkey public %x\nkey id %s\n", []byte(pub), key.KeyID())
	for _, c := range cps {
		fmt.Fprintf(&b, "\ncheckpoint %d\ntime %s\nmessage %x\nsignature %x\n", c.Seq, c.Time.Format(time.RFC3339Nano), c.Message(), c.Signature)
	}

	// Tampered variants, as transparency-dev/merkle's consistency vectors
	// flip single bits.
	tampers := []struct {
		name string
		edit func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint)
	}{
		{"flip bit 0 of payload byte 30 of record 2", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			es[1].payload[30] ^= 1
			return es, cs
		}},
		{"flip bit 7 of hash byte 0 of record 3", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			es[2].hash[0] ^= 0x80
			return es, cs
		}},
		{"flip bit 0 of prev_hash byte 31 of record 1", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			es[0].prevHash[31] ^= 1
			return es, cs
		}},
		{"remove record 2", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			return append(es[:1:1], es[2:]...), cs
		}},
		{"swap records 2 and 3", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			es[1], es[2] = es[2], es[1]
			es[1].seq, es[2].seq = 2, 3
			return es, cs
		}},
		{"truncate after record 3", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			return es[:3], cs
		}},
		{"flip bit 0 of signature byte 63 of checkpoint 4", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			cs[1].Signature[63] ^= 1
			return es, cs
		}},
		{"change the index column dag_id of record 2", func(es []rawEntry, cs []Checkpoint) ([]rawEntry, []Checkpoint) {
			es[1].cols.dagID = "hr"
			return es, cs
		}},
	}
	fmt.Fprintln(&b)
	for _, tc := range tampers {
		es, cs := tc.edit(cloneChain(entries, cps))
		_, err := verifyEntries(es, cs, key.KeySet(), false)
		if err == nil {
			t.Errorf("%s: verified as intact", tc.name)
		}
		fmt.Fprintf(&b, "tamper %s\nverify %v\n", tc.name, err)
	}
	if _, err := verifyEntries(entries, cps, key.KeySet(), false); err != nil {
		t.Fatalf("vectors do not verify: %v", err)
	}

	got := []byte(b.String())
	const path = "testdata/vectors.golden"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d (go test -update rewrites it):\n got %s\nwant %s", path, i+1, g, w)
			}
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for i := range 21 {
		rec := sampleRecord(i)
		rec.Seq = uint64(i + 1)
		normalize(&rec)
		p := Encode(rec)
		got, err := Decode(p)
		if err != nil {
			t.Fatalf("Decode(Encode(sample %d)) = %v", i, err)
		}
		if !bytes.Equal(Encode(got), p) {
			t.Errorf("sample %d does not round-trip", i)
		}
		if !got.Time.Equal(rec.Time) || got.Principal != rec.Principal || got.Path != rec.Path {
			t.Errorf("sample %d decoded as %+v, want %+v", i, got, rec)
		}
	}
}

// TestDecodeRejectsNonCanonical: every payload but the one Encode produces
// is refused, so a record has exactly one encoding and one hash.
func TestDecodeRejectsNonCanonical(t *testing.T) {
	rec := vectorRecords()[1]
	rec.Seq = 2
	good := Encode(rec)
	field := func(tag byte, s string) []byte {
		b := []byte{tag}
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	header := func(seq uint64) []byte {
		return binary.BigEndian.AppendUint64([]byte{FormatVersion, tagSeq}, seq)
	}
	minimal := append(append(header(1), 0x02, 0, 0, 0, 0, 0x77, 0x35, 0x94, 0), field(tagKind, "x")...)
	if _, err := Decode(minimal); err != nil {
		t.Fatalf("Decode(minimal) = %v", err)
	}
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"truncated", good[:len(good)-1]},
		{"unknown tag", append(bytes.Clone(minimal), field(0x7f, "x")...)},
		{"fields out of order", append(append(header(1), field(tagKind, "x")...), 0x02, 0, 0, 0, 0, 0x77, 0x35, 0x94, 0)},
		{"duplicate field", append(bytes.Clone(minimal), field(tagKind, "y")...)},
		{"empty string encoded", append(bytes.Clone(minimal), field(tagRequestID, "")...)},
		{"empty list encoded", append(bytes.Clone(minimal), tagReasons, 0, 0, 0, 0)},
		{"zero integer encoded", append(bytes.Clone(minimal), tagStatus, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"invalid UTF-8", append(append(header(1), 0x02, 0, 0, 0, 0, 0x77, 0x35, 0x94, 0), field(tagKind, "\xff")...)},
		{"NUL in string", append(bytes.Clone(minimal), field(tagPath, "a\x00b")...)},
		{"missing kind", append(header(1), 0x02, 0, 0, 0, 0, 0x77, 0x35, 0x94, 0)},
		{"missing seq", append([]byte{FormatVersion, 0x02, 0, 0, 0, 0, 0x77, 0x35, 0x94, 0}, field(tagKind, "x")...)},
		{"huge length", append(bytes.Clone(minimal), tagPath, 0xff, 0xff, 0xff, 0xff)},
		{"huge list", append(bytes.Clone(minimal), tagReasons, 0xff, 0xff, 0xff, 0xff)},
		{"bad decision", append(bytes.Clone(minimal), field(tagDecision, "maybe")...)},
		{"detail keys unsorted", append(append(bytes.Clone(minimal), tagDetail, 0, 0, 0, 2),
			append(append(append(field(0, "b")[1:], field(0, "1")[1:]...), field(0, "a")[1:]...), field(0, "2")[1:]...)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec, err := Decode(tc.payload); err == nil {
				t.Errorf("Decode(%x) = %+v, want an error", tc.payload, rec)
			}
		})
	}
	if _, err := Decode(append(bytes.Clone(minimal), 0x20)); err == nil {
		t.Error("Decode(field without value) succeeded")
	}
	var notCanon = append(bytes.Clone(minimal), tagReasons, 0, 0, 0, 0)
	if _, err := decode(notCanon); !errors.Is(err, errNotCanonical) {
		t.Errorf("decode(empty list) = %v, want errNotCanonical", err)
	}
}

func TestHashDomainSeparation(t *testing.T) {
	// A record hash and a link hash over the same bytes differ, so one can
	// never stand in for the other.
	var prev, rh Hash
	payload := append(prev[:], rh[:]...)
	if RecordHash(payload) == LinkHash(prev, rh) {
		t.Error("RecordHash and LinkHash collide on the same input")
	}
	if hex.EncodeToString(prev[:]) != prev.String() || len(prev.Short()) != 12 {
		t.Error("Hash.String or Short")
	}
}
