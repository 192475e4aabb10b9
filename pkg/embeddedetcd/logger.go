package embeddedetcd

import (
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger returns etcd's logger: errors and worse, as JSON on stderr. While closing is set,
// the serving errors etcd logs when its listeners close under it are dropped: they are the
// expected end of a deliberate shutdown, and would otherwise end every `make run` with stack
// traces.
func newLogger(closing *atomic.Bool) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	cfg.Sampling = nil
	lg, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	return lg.WithOptions(zap.WrapCore(shutdownFilter(closing))), nil
}

func shutdownFilter(closing *atomic.Bool) func(zapcore.Core) zapcore.Core {
	return func(c zapcore.Core) zapcore.Core { return shutdownNoiseFilter{Core: c, closing: closing} }
}

// shutdownNoiseFilter drops "setting up serving ... failed" while etcd is being closed.
type shutdownNoiseFilter struct {
	zapcore.Core
	closing *atomic.Bool
}

func (f shutdownNoiseFilter) With(fields []zapcore.Field) zapcore.Core {
	return shutdownNoiseFilter{Core: f.Core.With(fields), closing: f.closing}
}

// Check drops the noise before any field is encoded.
func (f shutdownNoiseFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if f.closing.Load() && strings.HasPrefix(e.Message, "setting up serving from embedded etcd failed") {
		return ce
	}
	return f.Core.Check(e, ce)
}
