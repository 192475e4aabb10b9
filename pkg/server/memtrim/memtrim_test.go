package memtrim

import (
	"context"
	"testing"
)

func TestShouldTrim(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur sample
		want      bool
	}{
		{"quiet, heap twice the live objects", sample{cycles: 5}, sample{cycles: 5, heap: 200, live: 100}, true},
		{"a collection ran during the interval: busy", sample{cycles: 5}, sample{cycles: 6, heap: 200, live: 100}, false},
		{"quiet but little garbage", sample{cycles: 5}, sample{cycles: 5, heap: 110, live: 100}, false},
		{"no collection yet", sample{}, sample{heap: 200}, false},
	} {
		if got := shouldTrim(tc.prev, tc.cur); got != tc.want {
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
	if samplesRead.heap == 0 {
		t.Errorf("heap objects read as 0: %+v", samplesRead)
	}
}
