package tcp

import (
	"testing"
	"unsafe"
)

// Every session keeps its transport for its whole life: the struct is
// kept within the allocator's 320-byte size class (past it, the next
// class is 352 bytes).
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 320 {
		t.Errorf("conn is %d bytes, over the 320-byte size class", n)
	}
}
