// Package arch holds the tests that keep airgate's layout honest: internal
// packages import only downward along the request pipeline (the layering in
// the table of arch_test.go), every package has a doc comment, and test
// helpers stay out of production code. It has no code of its own.
package arch
