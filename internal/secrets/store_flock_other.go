//go:build !unix

package secrets

import "sync"

// fileLocks serializes writers within this process where advisory file
// locks are not available; separate processes MUST NOT share the file.
var fileLocks sync.Map

func lockFile(path string) (func(), error) {
	v, _ := fileLocks.LoadOrStore(path, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock, nil
}
