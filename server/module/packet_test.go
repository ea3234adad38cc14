package module

import (
	"context"
	"slices"
	"testing"
)

// TestPacketHold: what a hook holds is run once the router releases the
// packet unless a later hook took it; Take finds it by key, once; what is
// left runs once, in the order it was held.
func TestPacketHold(t *testing.T) {
	type keyA struct{}
	type keyB struct{}
	var ran []string
	run := func(_ context.Context, v any) { ran = append(ran, v.(string)) }
	var p Packet
	if _, ok := p.Take(keyA{}); ok {
		t.Fatal("Take found something in an empty packet")
	}
	p.Hold(keyA{}, "a", run)
	p.Hold(keyB{}, "b", run)
	p.Hold(keyA{}, "a2", run)
	if v, ok := p.Take(keyA{}); !ok || v != "a" {
		t.Fatalf("Take(keyA) = %v, %v; want a, true", v, ok)
	}
	p.Release(t.Context())
	if want := []string{"b", "a2"}; !slices.Equal(ran, want) {
		t.Fatalf("released %q, want %q", ran, want)
	}
	p.Release(t.Context())
	if len(ran) != 2 {
		t.Fatalf("a second Release ran %q again", ran[2:])
	}
	if _, ok := p.Take(keyB{}); ok {
		t.Fatal("Take found what was released")
	}
}
