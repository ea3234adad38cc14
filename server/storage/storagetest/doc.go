// Package storagetest is the conformance suite for server/storage backends.
// A backend's tests call [Run] with a function returning fresh, empty
// stores; every subtest opens its own.
package storagetest
