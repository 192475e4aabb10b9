//go:build e2e

package e2e

import (
	"context"
	"os"
	"testing"
	"time"
)

// st is the stack all tests share.
var st *stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	s, err := startStack(ctx)
	if err != nil {
		logf("starting the stack failed: %v", err)
		if s != nil {
			s.dumpLogs()
			_ = s.stop()
		}
		return 1
	}
	logf("stack ready in %s (etcd %s, kube-apiserver %s, image-apiserver %s)", time.Since(start).Round(time.Millisecond), s.etcdURL, s.kubeURL, s.serverURL)
	st = s
	code := m.Run()
	if code != 0 {
		s.dumpLogs()
	}
	stopStart := time.Now()
	if err := s.stop(); err != nil {
		logf("stopping: %v", err)
		code = 1
	}
	logf("stack stopped in %s", time.Since(stopStart).Round(time.Millisecond))
	return code
}
