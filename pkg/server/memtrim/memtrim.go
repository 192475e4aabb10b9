// Package memtrim returns memory to the system once the server goes quiet.
//
// The Go collector lets the heap grow to its goal (about twice its live size, or the heap floor
// of package gcfloor) before it collects, and the runtime keeps the memory of that heap, free
// or not, about as long as the goal stays where it is: the background scavenger returns only
// what lies above it. After a burst of pushes the server can sit at twice its needs for as long
// as no allocation triggers a new cycle: a quiet server may run none for minutes. Once an
// interval passes without a collection (the server is quiet) while the heap holds much more
// memory than its live objects need, a collection is forced and the free memory returned.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"k8s.io/klog/v2"
)

// DefaultInterval is how long the server must go without a collection to count as quiet.
const DefaultInterval = 2 * time.Second

// slack is how much larger than the live heap the heap may be before a quiet server trims it:
// below it, a forced collection would cost more than it returns.
const slack = 1.25

// sample is what the decision reads from the runtime.
type sample struct {
	cycles uint64 // collections so far
	held   uint64 // bytes of heap memory the process holds: objects (live or garbage), and free memory not yet returned
	live   uint64 // bytes of live heap objects at the last collection
}

// shouldTrim decides on two consecutive samples an interval apart. trimmedAt is the number of
// collections right after the last trim: until another collection runs, there is nothing new
// to return, and a heap whose fragmentation alone exceeds the slack is not trimmed again and
// again.
func shouldTrim(prev, cur sample, trimmedAt uint64) bool {
	quiet := cur.cycles == prev.cycles
	return quiet && cur.cycles != trimmedAt && cur.live > 0 && float64(cur.held) > slack*float64(cur.live)
}

var sampleNames = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/live:bytes",
	// What the heap holds: these three, not the released memory, count in the process's RSS.
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

func read(samples []metrics.Sample) sample {
	metrics.Read(samples)
	return sample{
		cycles: samples[0].Value.Uint64(),
		live:   samples[1].Value.Uint64(),
		held:   samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64(),
	}
}

func samplesFor() []metrics.Sample {
	samples := make([]metrics.Sample, len(sampleNames))
	for i, name := range sampleNames {
		samples[i].Name = name
	}
	return samples
}

// Run trims until ctx ends.
func Run(ctx context.Context, interval time.Duration) {
	samples := samplesFor()
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := read(samples)
	var trimmedAt uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := read(samples)
		if shouldTrim(prev, cur, trimmedAt) {
			debug.FreeOSMemory()
			klog.FromContext(ctx).V(4).Info("Returned free memory to the system", "heldBytes", cur.held, "liveBytes", cur.live)
			cur = read(samples)
			trimmedAt = cur.cycles
		}
		prev = cur
	}
}
