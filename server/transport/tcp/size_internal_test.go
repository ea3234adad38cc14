package tcp

import (
	"testing"
	"unsafe"
)

// Every session keeps its transport for its whole life: the struct is
// kept within the allocator's 256-byte size class (past it, the next
// class is 288 bytes; the deadline reader's time stamps are int64
// stamps, not time.Time values, for that).
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 256 {
		t.Errorf("conn is %d bytes, over the 256-byte size class", n)
	}
}
