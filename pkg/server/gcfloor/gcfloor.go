// Package gcfloor keeps the Go collector from running more often than a small heap needs, and
// a large heap from growing further past its live objects than a bound.
//
// Go starts a collection when the heap reaches (1 + GOGC/100) times what was live after the
// previous one. A server whose live heap is small (tens of MiB) but that allocates quickly
// (every request decodes, validates and encodes objects) then collects many times a second:
// under a push burst on 2 cores the collector took about a fifth of the server's CPU. A floor
// under the heap goal makes those cycles rare while the heap is small, and changes nothing
// once twice the live heap is above the floor: there GOGC rules as before, so the memory a
// large server needs is unchanged. A quiet server still returns its slack to the system
// (package memtrim), so the floor costs memory only while requests are flowing.
//
// At the other end, GOGC=100 lets a heap of 250 MiB of live objects (100 000 images and their
// streams cached) reach 500 MiB before a collection. A cap on the slack, the memory between
// the live objects and the goal, keeps a large server's peak a fixed amount above what it
// needs, for a few more collections than GOGC alone would run.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// DefaultFloor is the default heap goal below which the collector does not run: 64 MiB, a
// fraction of the memory the server needs anyway once images pile up. A higher floor saves
// little more collection and costs fresh memory to touch: on the development machine, pushes
// ran faster with 64 MiB than with 128 MiB, and slower with 512 MiB.
const DefaultFloor = 64 << 20

// DefaultMaxSlack is the default cap on the heap's growth past its live objects: 64 MiB. With
// 128 MiB, a 60 s push burst on top of 100 000 images (a live heap near 300 MiB by its end,
// as the index and the stream cache grow) peaked at 455–528 MiB of RSS, over a 500 MiB
// budget once pushes got faster; with 64 MiB the same burst peaked at 396–435 MiB, for a few
// per cent of its push rate. A small server never reaches the cap: below 64 MiB of live
// objects the floor or GOGC sets the goal.
const DefaultMaxSlack = 64 << 20

// maxPercent bounds the percentage set for a nearly empty heap, where the floor divided by the
// live size would be huge.
const maxPercent = 10000

// percentFor is the GOGC for a heap with live bytes: base (the GOGC the process started
// with), raised until the goal reaches floor, or lowered until the slack past live is at most
// maxSlack (0: no cap). The floor wins over the cap.
func percentFor(live, floor, maxSlack uint64, base int) int {
	if live == 0 || base <= 0 {
		return base
	}
	slack := live * uint64(base) / 100
	if maxSlack > 0 && slack > maxSlack {
		slack = maxSlack
	}
	if live+slack < floor {
		slack = floor - live
	}
	p := slack * 100 / live
	switch {
	case p > maxPercent:
		return maxPercent
	case p < 1:
		return 1
	}
	return int(p)
}

// Tuner adjusts GOGC after every collection. Its zero value is not usable; call Start.
type Tuner struct {
	floor    uint64
	maxSlack uint64
	base     int
	stopped  atomic.Bool
	sample   []metrics.Sample
	// percent is the GOGC last set, for tests and logs.
	percent atomic.Int64
}

// sentinel is an object that only a finalizer refers to: it becomes garbage in every cycle,
// so its finalizer runs once after each collection. It holds a pointer and some bytes so that
// it is not a tiny allocation, whose finalizer could wait for its neighbours.
type sentinel struct {
	t   *Tuner
	pad [2]uint64
}

// Start sets a heap floor of floor bytes and a cap of maxSlack bytes on the slack, and keeps
// them until Stop. With both 0, or when the process runs with GOGC=off, it changes nothing and
// returns nil.
func Start(floor, maxSlack uint64) *Tuner {
	if floor == 0 && maxSlack == 0 {
		return nil
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base <= 0 {
		return nil
	}
	t := &Tuner{floor: floor, maxSlack: maxSlack, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.percent.Store(int64(base))
	t.adjust()
	t.arm()
	return t
}

// Stop gives GOGC back its starting value.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(t.base)
}

// Percent is the GOGC the tuner set last.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust runs in the finalizer goroutine, one call at a time.
func (t *Tuner) adjust() {
	metrics.Read(t.sample)
	live := t.sample[0].Value.Uint64()
	p := percentFor(live, t.floor, t.maxSlack, t.base)
	if int64(p) != t.percent.Load() {
		debug.SetGCPercent(p)
		t.percent.Store(int64(p))
	}
}
