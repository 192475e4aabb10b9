package memtrim

import (
	"context"
	"testing"
)

func TestShouldTrim(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur sample
		trimmedAt uint64
		want      bool
	}{
		{"quiet, heap memory twice the live objects", sample{cycles: 5}, sample{cycles: 5, held: 200, live: 100}, 0, true},
		{"a collection ran during the interval: busy", sample{cycles: 5}, sample{cycles: 6, held: 200, live: 100}, 0, false},
		{"quiet but little garbage", sample{cycles: 5}, sample{cycles: 5, held: 110, live: 100}, 0, false},
		{"no collection yet", sample{}, sample{held: 200}, 0, false},
		{"quiet, and nothing collected since the last trim", sample{cycles: 7}, sample{cycles: 7, held: 200, live: 100}, 7, false},
		{"quiet again after a collection since the last trim", sample{cycles: 8}, sample{cycles: 8, held: 200, live: 100}, 7, true},
	} {
		if got := shouldTrim(tc.prev, tc.cur, tc.trimmedAt); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRead: the runtime metrics the decision reads exist under these names (a renamed metric
// would read as zero and the trimmer would never act).
func TestRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Run(ctx, DefaultInterval) // returns at once on a done context
	garbage := make([][]byte, 0, 64)
	for i := 0; i < 64; i++ {
		garbage = append(garbage, make([]byte, 64<<10))
	}
	_ = garbage
	samplesRead := read(samplesFor())
	if samplesRead.held == 0 {
		t.Errorf("heap memory read as 0: %+v", samplesRead)
	}
}
