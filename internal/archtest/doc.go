// Package archtest holds the test that keeps the dependency rule of
// docs/architecture.md true.
package archtest
