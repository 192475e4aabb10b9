// Package workers runs short jobs on goroutines that stay a while after their job, so that the
// next job starts on a stack already grown.
//
// A goroutine starts with a small stack and doubles it, copying, each time a call chain goes
// deeper. The stream writer starts a goroutine per push to plan, validate and encode it, and
// the transaction group one per commit: as new goroutines, their stack growth alone cost a few
// percent of a push's CPU. A goroutine that waits for the next job keeps its stack.
package workers

import (
	"sync/atomic"
	"time"
)

// Pool hands jobs to idle goroutines, or to new ones when none is idle. Goroutines idle longer
// than the pool's idle time exit, so the pool is as large as the concurrency it sees, and no
// job ever waits for a goroutine. The zero value is not usable; call New.
type Pool struct {
	jobs chan func()
	idle time.Duration
	// live and waiting count the pool's goroutines, and those waiting for a job.
	live, waiting atomic.Int64
}

// New returns a pool whose goroutines exit after idle without a job.
func New(idle time.Duration) *Pool {
	return &Pool{jobs: make(chan func()), idle: idle}
}

// Go runs job on an idle goroutine of the pool, or on a new one.
func (p *Pool) Go(job func()) {
	select {
	case p.jobs <- job:
	default:
		go p.work(job)
	}
}

func (p *Pool) work(job func()) {
	p.live.Add(1)
	defer p.live.Add(-1)
	timer := time.NewTimer(p.idle)
	defer timer.Stop()
	for {
		job()
		timer.Reset(p.idle)
		p.waiting.Add(1)
		select {
		case job = <-p.jobs:
			p.waiting.Add(-1)
		case <-timer.C:
			p.waiting.Add(-1)
			return
		}
	}
}
