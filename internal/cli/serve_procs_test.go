package cli

import (
	"runtime"
	"testing"
)

// serve keeps two Go processors on one CPU, unless GOMAXPROCS says
// otherwise.
func TestEnsureTwoProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	ensureTwoProcs()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS = %d after ensureTwoProcs on one processor, want 2", got)
	}
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	ensureTwoProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS = %d with GOMAXPROCS=1 set, want 1", got)
	}
}
