package app

import (
	"testing"
	"time"
)

// The policy trims once a wave of parking or of session ends is over
// (a quiet tick), or a minute into a wave that does not end, and not for
// small waves.
func TestTrimPolicy(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type obs struct {
		parks    uint64
		sessions int
		at       time.Duration
		want     bool
	}
	for _, tc := range []struct {
		name string
		obs  []obs
	}{
		{"parking wave", []obs{
			{0, 0, 0, false}, {500, 1500, time.Second, false}, {1500, 3000, 2 * time.Second, false},
			{1500, 3000, 3 * time.Second, true},  // quiet: the wave is over
			{1500, 3000, 4 * time.Second, false}, // nothing new
		}},
		{"small waves", []obs{
			{0, 0, 0, false}, {400, 400, time.Second, false}, {400, 400, 2 * time.Second, false},
			{800, 800, 3 * time.Second, false}, {800, 800, 4 * time.Second, false},
			{1000, 1000, 5 * time.Second, false}, {1000, 1000, 6 * time.Second, true}, // 1,000 in all
		}},
		{"mass disconnect", []obs{
			{3000, 3000, 0, false}, {3000, 3000, time.Second, false},
			{3000, 1200, 2 * time.Second, false}, {3000, 0, 3 * time.Second, false},
			{3000, 0, 4 * time.Second, true}, // all gone, quiet
			{3000, 0, 5 * time.Second, false},
		}},
		{"disconnects after logins", []obs{
			{0, 0, 0, false}, {0, 2000, time.Second, false}, // logins, no parks yet
			{0, 500, 2 * time.Second, false}, {0, 500, 3 * time.Second, true},
		}},
		{"no end to the wave", []obs{
			{0, 0, 0, false}, {2000, 2000, 30 * time.Second, false}, {2100, 2100, 59 * time.Second, false},
			{2200, 2200, 61 * time.Second, true}, // a minute since the first tick
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p trimPolicy
			for i, o := range tc.obs {
				if got := p.observe(o.parks, o.sessions, t0.Add(o.at)); got != o.want {
					t.Errorf("observation %d (%d parks, %d sessions at %v): trim %v, want %v", i, o.parks, o.sessions, o.at, got, o.want)
				}
			}
		})
	}
}
