package workers

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestPoolRunsEveryJob: concurrent jobs all run, whether on idle or new goroutines.
func TestPoolRunsEveryJob(t *testing.T) {
	p := New(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ran := map[int]bool{}
	for i := range 200 {
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			mu.Lock()
			ran[i] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ran) != 200 {
		t.Errorf("%d jobs ran, want 200", len(ran))
	}
}

// TestPoolReusesAndReleasesGoroutines: jobs given while a goroutine waits run on it, and the
// goroutine exits once idle for the pool's idle time.
func TestPoolReusesAndReleasesGoroutines(t *testing.T) {
	p := New(300 * time.Millisecond)
	for range 20 {
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
		// Give the next job once the goroutine waits for it.
		waitFor(t, func() bool { return p.waiting.Load() == 1 })
	}
	// A goroutine counts as waiting just before it receives, so a job given in that instant
	// starts another goroutine: rarely, but a few are allowed.
	if n := p.live.Load(); n < 1 || n > 5 {
		t.Errorf("20 jobs, each given while a goroutine waited, left %d goroutines, want 1 (a few at most)", n)
	}
	waitFor(t, func() bool { return p.live.Load() == 0 })
}

// waitFor polls cond within a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		runtime.Gosched()
	}
}
