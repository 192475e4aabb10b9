// Package memtrim returns memory to the system once the server goes quiet.
//
// The Go collector lets the heap grow to about twice its live size before it collects, and
// keeps that memory until its next cycle. After a burst of pushes the server can sit at twice
// its needs for as long as no allocation triggers a new cycle: a quiet server may run none for
// minutes. Once an interval passes without a collection (the server is quiet) while the heap
// holds much more than its live objects, a collection is forced and the free memory returned.
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
	heap   uint64 // bytes of heap objects, live or garbage not yet collected
	live   uint64 // bytes of live heap objects at the last collection
}

// shouldTrim decides on two consecutive samples an interval apart.
func shouldTrim(prev, cur sample) bool {
	quiet := cur.cycles == prev.cycles
	return quiet && cur.live > 0 && float64(cur.heap) > slack*float64(cur.live)
}

var sampleNames = []string{"/gc/cycles/total:gc-cycles", "/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

func read(samples []metrics.Sample) sample {
	metrics.Read(samples)
	return sample{cycles: samples[0].Value.Uint64(), heap: samples[1].Value.Uint64(), live: samples[2].Value.Uint64()}
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
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := read(samples)
		if shouldTrim(prev, cur) {
			debug.FreeOSMemory()
			klog.FromContext(ctx).V(4).Info("Returned free memory to the system", "heapBytes", cur.heap, "liveBytes", cur.live)
			cur = read(samples)
		}
		prev = cur
	}
}
