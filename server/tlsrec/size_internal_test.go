package tlsrec

import (
	"testing"
	"unsafe"
)

// Every TLS session keeps its Conn for its whole life: the struct is kept
// within the allocator's 384-byte size class (past it, the next class is
// 416 bytes). The cipher suite is shared, not copied.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 384 {
		t.Errorf("Conn is %d bytes, over the 384-byte size class", n)
	}
}
