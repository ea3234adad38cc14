//go:build !unix

package c2s

// peekSupported: this platform cannot peek at a socket, so readers never
// park.
const peekSupported = false

// readable is never called where peekSupported is false.
func readable(uintptr) bool { return true }
