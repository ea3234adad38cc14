package stream

import (
	"testing"
	"unsafe"
)

// Every session keeps its conn for its whole life: the struct is kept
// within the allocator's 704-byte size class (a field more may push it to
// the next class, 768 bytes, 64 bytes a session). Fields only a login
// needs go behind pointers.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 704 {
		t.Errorf("conn is %d bytes, over the 704-byte size class", n)
	}
}
