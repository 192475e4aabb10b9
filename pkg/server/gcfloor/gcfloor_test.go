package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                  string
		live, floor, maxSlack uint64
		base, want            int
	}{
		{name: "small heap is lifted to the floor", live: 32 * mib, floor: 128 * mib, base: 100, want: 300},
		{name: "goal at the floor keeps base", live: 64 * mib, floor: 128 * mib, base: 100, want: 100},
		{name: "large heap keeps base", live: 400 * mib, floor: 128 * mib, base: 100, want: 100},
		{name: "a higher base is kept when it already reaches the floor", live: 32 * mib, floor: 128 * mib, base: 400, want: 400},
		{name: "a higher base is raised when it does not", live: 16 * mib, floor: 128 * mib, base: 200, want: 700},
		{name: "nearly empty heap is capped", live: 1, floor: 128 * mib, base: 100, want: maxPercent},
		{name: "unknown live size keeps base", live: 0, floor: 128 * mib, base: 100, want: 100},
		{name: "GOGC off stays off", live: 32 * mib, floor: 128 * mib, base: -1, want: -1},
		{name: "slack under the cap keeps base", live: 150 * mib, floor: 128 * mib, maxSlack: 192 * mib, base: 100, want: 100},
		{name: "slack over the cap is lowered to it", live: 384 * mib, floor: 128 * mib, maxSlack: 192 * mib, base: 100, want: 50},
		{name: "no cap", live: 384 * mib, floor: 128 * mib, base: 100, want: 100},
		{name: "the floor wins over the cap", live: 16 * mib, floor: 128 * mib, maxSlack: 32 * mib, base: 100, want: 700},
		{name: "a tiny cap on a huge heap stays at 1", live: 100000 * mib, maxSlack: 1, base: 100, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentFor(tc.live, tc.floor, tc.maxSlack, tc.base); got != tc.want {
				t.Errorf("percentFor(%d, %d, %d, %d) = %d, want %d", tc.live, tc.floor, tc.maxSlack, tc.base, got, tc.want)
			}
		})
	}
}

// TestTunerFollowsCollections checks the finalizer hook: after collections of a small heap,
// GOGC is above its base, and Stop restores the base.
func TestTunerFollowsCollections(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)

	tuner := Start(1<<30, 0)
	if tuner == nil {
		t.Fatal("Start returned nil with GOGC=100")
	}
	// Undo what Start set, so that only the finalizer hook can set it again.
	debug.SetGCPercent(100)
	tuner.percent.Store(100)
	// The finalizer runs in its own goroutine after a collection: collect until it has run,
	// within a generous bound. The test binary's live heap is a few MiB, far below 1 GiB.
	deadline := time.Now().Add(30 * time.Second)
	for tuner.Percent() == 100 && time.Now().Before(deadline) {
		runtime.GC()
		runtime.Gosched()
	}
	if tuner.Percent() <= 100 {
		t.Fatalf("Percent() = %d after collections, want above 100", tuner.Percent())
	}
	if got := debug.SetGCPercent(tuner.Percent()); got != tuner.Percent() {
		t.Errorf("GOGC = %d, want the tuner's %d", got, tuner.Percent())
	}
	tuner.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC after Stop = %d, want 100", got)
	}
}

func TestStartWithoutFloorOrWithGCOff(t *testing.T) {
	if Start(0, 0) != nil {
		t.Error("Start(0, 0) returned a tuner")
	}
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	if Start(1<<30, 0) != nil {
		t.Error("Start with GOGC=off returned a tuner")
	}
}
