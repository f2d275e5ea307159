//go:build race

package demo_test

// raceEnabled reports whether the tests run with the race detector; the
// end-to-end suite then builds airgate with it too.
const raceEnabled = true
