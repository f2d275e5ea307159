//go:build !linux

package audit

// lowerThreadPriority is a no-op where threads have no priority of their
// own.
func lowerThreadPriority(int) error { return nil }
