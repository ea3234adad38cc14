package stream

import (
	"testing"
	"unsafe"
)

// Every session keeps its conn for its whole life: the struct is kept
// within the allocator's 640-byte size class (a field more pushes it to
// the next class, 704 bytes, 64 bytes a session). Fields only a login
// needs go behind pointers, or are derived when needed (remoteIP).
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 640 {
		t.Errorf("conn is %d bytes, over the 640-byte size class", n)
	}
}
