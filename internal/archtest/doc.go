// Package archtest holds the tests that keep docs/architecture.md true:
// the dependency rules between packages (over `go list -deps`), a row in
// its package table for every package of the module, and documentation
// that stands alone (no link or path outside the repository).
package archtest
