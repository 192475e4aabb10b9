package embeddedetcd

import (
	"errors"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestShutdownNoiseFilter(t *testing.T) {
	const noise = "setting up serving from embedded etcd failed."
	tests := []struct {
		name    string
		closing bool
		msg     string
		kept    bool
	}{
		{"serving error while closing is dropped", true, noise, false},
		{"serving error while running is kept", false, noise, true},
		{"other errors while closing are kept", true, "failed to apply", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var closing atomic.Bool
			closing.Store(tc.closing)
			core, logs := observer.New(zapcore.ErrorLevel)
			zap.New(shutdownFilter(&closing)(core)).Error(tc.msg, zap.Error(errors.New("mux: server closed")))
			if kept := logs.Len() == 1; kept != tc.kept {
				t.Errorf("kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}
