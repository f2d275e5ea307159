package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FileSecrets is a [SecretStore] in one local JSON file, written atomically
// with mode 0600 (see [FileStore]). Changes take an exclusive lock on a
// ".lock" file beside it, so several processes on one host may share it.
// With a KEK, values are sealed with AES-256-GCM; without one they are
// stored in the clear, protected by the file's mode only.
type FileSecrets struct {
	file FileStore
	keks keks
	now  func() time.Time
}

// FileSecretsOptions configure a FileSecrets.
type FileSecretsOptions struct {
	// KEK seals values; nil stores them in the clear.
	KEK *KEK
	// PreviousKEKs still open values sealed before a KEK change.
	PreviousKEKs []*KEK
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewFileSecrets returns a store in the file at path (created on first
// write).
func NewFileSecrets(path string, o FileSecretsOptions) *FileSecrets {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &FileSecrets{file: FileStore{Path: path}, keks: keks{primary: o.KEK, old: o.PreviousKEKs}, now: o.Now}
}

var _ SecretStore = (*FileSecrets)(nil)

type fileVersion struct {
	Version     int               `json:"version"`
	State       State             `json:"state"`
	Value       []byte            `json:"value,omitempty"`
	KEKID       string            `json:"kek_id,omitempty"`
	Created     time.Time         `json:"created"`
	Expires     time.Time         `json:"expires,omitzero"`
	ActivatedAt time.Time         `json:"activated_at,omitzero"`
	RetiredAt   time.Time         `json:"retired_at,omitzero"`
	Previous    int               `json:"previous,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

type fileDoc struct {
	Version int                      `json:"version"`
	Secrets map[string][]fileVersion `json:"secrets"`
}

func (f *FileSecrets) load() (fileDoc, error) {
	doc := fileDoc{Version: 1, Secrets: map[string][]fileVersion{}}
	data, err := f.file.Load()
	if errors.Is(err, ErrNotFound) {
		return doc, nil
	}
	if err != nil {
		return doc, fmt.Errorf("secrets: %w", err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, fmt.Errorf("secrets: decoding %s: %w", f.file.Path, err)
	}
	if doc.Version != 1 {
		return doc, fmt.Errorf("secrets: %s: unsupported version %d", f.file.Path, doc.Version)
	}
	if doc.Secrets == nil {
		doc.Secrets = map[string][]fileVersion{}
	}
	return doc, nil
}

// set decodes name's versions, opening sealed values.
func (f *FileSecrets) set(doc fileDoc, name string) (versionSet, error) {
	var s versionSet
	for _, fv := range doc.Secrets[name] {
		v := &Version{
			Name: name, Version: fv.Version, State: fv.State, Created: fv.Created, Expires: fv.Expires,
			ActivatedAt: fv.ActivatedAt, RetiredAt: fv.RetiredAt, Previous: fv.Previous, Meta: fv.Meta,
		}
		if fv.Value != nil {
			val, err := f.keks.open(name, fv.Version, fv.Value, fv.KEKID)
			if err != nil {
				return nil, err
			}
			v.Value = val
		}
		s = append(s, v)
	}
	return s, nil
}

func (f *FileSecrets) encode(doc *fileDoc, name string, s versionSet) error {
	out := make([]fileVersion, 0, len(s))
	for _, v := range s {
		sealed, kekID, err := f.keks.seal(name, v.Version, v.Value)
		if err != nil {
			return err
		}
		out = append(out, fileVersion{
			Version: v.Version, State: v.State, Value: sealed, KEKID: kekID, Created: v.Created.UTC(),
			Expires: v.Expires.UTC(), ActivatedAt: v.ActivatedAt, RetiredAt: v.RetiredAt, Previous: v.Previous, Meta: v.Meta,
		})
	}
	doc.Secrets[name] = out
	return nil
}

// Get implements [SecretStore].
func (f *FileSecrets) Get(ctx context.Context, name string, version int) (*Version, error) {
	doc, err := f.load()
	if err != nil {
		return nil, err
	}
	s, err := f.set(doc, name)
	if err != nil {
		return nil, err
	}
	v := s.find(version)
	if v == nil {
		return nil, fmt.Errorf("secrets: %s version %d: %w", name, version, ErrNotFound)
	}
	return v, nil
}

// update runs fn on name's versions under the file lock and saves.
func (f *FileSecrets) update(name string, fn func(versionSet) (versionSet, error)) error {
	unlock, err := lockFile(f.file.Path + ".lock")
	if err != nil {
		return fmt.Errorf("secrets: locking %s: %w", f.file.Path, err)
	}
	defer unlock()
	doc, err := f.load()
	if err != nil {
		return err
	}
	s, err := f.set(doc, name)
	if err != nil {
		return err
	}
	if s, err = fn(s); err != nil {
		return err
	}
	if err := f.encode(&doc, name, s); err != nil {
		return err
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := f.file.Save(data); err != nil {
		return fmt.Errorf("secrets: saving %s: %w", f.file.Path, err)
	}
	return nil
}

// Put implements [SecretStore].
func (f *FileSecrets) Put(ctx context.Context, name string, v Version) (int, error) {
	if name == "" || v.Value == nil {
		return 0, errors.New("secrets: Put needs a name and a value")
	}
	var n int
	err := f.update(name, func(s versionSet) (versionSet, error) {
		nv := v.Clone()
		n = s.next()
		nv.Name, nv.Version, nv.State = name, n, StatePending
		nv.Created = f.now().UTC()
		nv.ActivatedAt, nv.RetiredAt, nv.Previous = time.Time{}, time.Time{}, 0
		return append(s, nv), nil
	})
	return n, err
}

// Activate implements [SecretStore].
func (f *FileSecrets) Activate(ctx context.Context, name string, version int) error {
	return f.update(name, func(s versionSet) (versionSet, error) {
		return s, s.activate(name, version, f.now())
	})
}

// Retire implements [SecretStore].
func (f *FileSecrets) Retire(ctx context.Context, name string, version int) error {
	return f.update(name, func(s versionSet) (versionSet, error) {
		return s, s.retire(name, version, f.now())
	})
}
