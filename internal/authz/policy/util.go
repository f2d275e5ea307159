package policy

import (
	"fmt"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// wrapf wraps a sentinel with detail text that follows it.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w "+format, append([]any{sentinel}, args...)...)
}
