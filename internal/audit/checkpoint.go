package audit

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Signer signs checkpoints. airgate's keyring satisfies it; [Key] is a
// file-backed implementation for the CLI and tests. Implementations must be
// safe for concurrent use and produce Ed25519 signatures (RFC 8032) that the
// public key published under KeyID verifies.
//
// A Signer that also has a method Public() crypto.PublicKey returning an
// ed25519.PublicKey has its public key recorded in the database when a
// writing [Log] opens, so that [Log.Verify] can find it when no pinned keys
// are given.
type Signer interface {
	// KeyID names the key; it is stored with each checkpoint.
	KeyID() string
	// Sign returns the Ed25519 signature of msg.
	Sign(msg []byte) ([]byte, error)
}

// KeySet maps key ids to the Ed25519 public keys that verify checkpoints.
// The verifier trusts exactly the keys it is given.
type KeySet map[string]ed25519.PublicKey

// Checkpoint is a signed statement that the chain's record Seq has chain
// hash Head. Because each chain hash commits to every record before it, a
// valid checkpoint pins the whole prefix; a chain that ends before a
// checkpoint's Seq has been truncated.
type Checkpoint struct {
	Seq       uint64    `json:"seq"`
	Head      Hash      `json:"head"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// checkpointContext follows the 0x02 prefix in a checkpoint message, so that
// a key shared with other uses (airgate's keyring also signs tokens) can
// never be tricked into signing a checkpoint, or the reverse.
const checkpointContext = "airgate-audit-checkpoint-v1"

// maxKeyIDLen bounds key ids.
const maxKeyIDLen = 256

// Message returns the bytes a checkpoint's signature covers:
//
//	0x02 || "airgate-audit-checkpoint-v1" || uint64 seq || 32-byte head ||
//	int64 time (Unix nanoseconds, UTC) || uint32 len(key id) || key id
//
// with integers big-endian.
func (c *Checkpoint) Message() []byte {
	b := make([]byte, 0, 1+len(checkpointContext)+8+32+8+4+len(c.KeyID))
	b = append(b, prefixCheckpoint)
	b = append(b, checkpointContext...)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = append(b, c.Head[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.KeyID)))
	return append(b, c.KeyID...)
}

// signCheckpoint builds and signs the checkpoint for (seq, head) at now.
func signCheckpoint(s Signer, seq uint64, head Hash, now time.Time) (Checkpoint, error) {
	c := Checkpoint{Seq: seq, Head: head, Time: now.Round(0).UTC(), KeyID: s.KeyID()}
	if c.KeyID == "" || len(c.KeyID) > maxKeyIDLen {
		return c, fmt.Errorf("signer key id %q is empty or too long", c.KeyID)
	}
	sig, err := s.Sign(c.Message())
	if err != nil {
		return c, fmt.Errorf("signing checkpoint: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return c, fmt.Errorf("signer returned a %d-byte signature, want Ed25519", len(sig))
	}
	c.Signature = sig
	return c, nil
}

// errUnknownKey and errBadSignature are the two ways a checkpoint fails
// its signature check.
var (
	errUnknownKey   = errors.New("unknown key")
	errBadSignature = errors.New("bad signature")
)

// verifySignature checks c's signature against keys.
func (c *Checkpoint) verifySignature(keys KeySet) error {
	pub, ok := keys[c.KeyID]
	if !ok {
		return errUnknownKey
	}
	if len(pub) != ed25519.PublicKeySize || len(c.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(pub, c.Message(), c.Signature) {
		return errBadSignature
	}
	return nil
}
