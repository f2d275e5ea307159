package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileStore keeps secrets in one local file, written atomically (temporary
// file, fsync, rename) with mode 0600.
type FileStore struct {
	Path string
}

// maxStoreFile bounds a store file.
const maxStoreFile = 4 << 20

// Load reads the file; ErrNotFound when it does not exist.
func (f FileStore) Load() ([]byte, error) {
	st, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", f.Path, st.Mode().Perm())
	}
	if st.Size() > maxStoreFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Path, maxStoreFile)
	}
	return os.ReadFile(f.Path)
}

// Save replaces the file atomically.
func (f FileStore) Save(data []byte) error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
