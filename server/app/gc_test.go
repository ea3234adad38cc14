package app

import "testing"

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 * mib, 100},         // nothing measured yet
		{13 * mib, 64 * mib, 392},  // next cycle at 64 MiB
		{32 * mib, 64 * mib, 100},  // half the floor: Go's default
		{100 * mib, 64 * mib, 100}, // above the floor
		{1 * mib, 64 * mib, 1000},  // capped
		{6 * mib, 64 * mib, 966},   // just under the cap
	} {
		if got := gcPercentFor(c.live, c.floor); got != c.want {
			t.Errorf("gcPercentFor(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.floor/mib, got, c.want)
		}
	}
}
