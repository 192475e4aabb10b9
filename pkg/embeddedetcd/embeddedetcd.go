// Package embeddedetcd runs etcd inside the server process when no --etcd-servers are given
// (decisions.md D10), so `make run` needs nothing but the binary.
package embeddedetcd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Etcd is a running embedded etcd.
type Etcd struct {
	etcd      *embed.Etcd
	clientURL string
	// closing tells etcd's logger that listener errors are expected from now on.
	closing *atomic.Bool
}

// Start runs a single-member etcd with its data under dir, listening on loopback only. It
// returns once etcd serves clients, or fails after timeout.
func Start(ctx context.Context, dir string, timeout time.Duration) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// etcd refuses a data directory readable by others.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	clientURL, err := clientURLIn(dir)
	if err != nil {
		return nil, err
	}
	peerURL, err := freeLoopbackURL()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "image-apiserver"
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	cfg.LogLevel = "error"
	closing := &atomic.Bool{}
	logger, err := newLogger(closing)
	if err != nil {
		return nil, err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Etcd{etcd: e, clientURL: clientURL.String(), closing: closing}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s was not ready after %s", dir, timeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// ClientURL is the URL to pass as --etcd-servers.
func (e *Etcd) ClientURL() string { return e.clientURL }

// Close stops etcd and waits until its data is flushed.
func (e *Etcd) Close() {
	e.closing.Store(true)
	e.etcd.Close()
}

// maxSocketPath is the longest unix socket path Linux and macOS accept (sun_path holds 108
// and 104 bytes, including the terminating NUL).
const maxSocketPath = 103

// clientURLIn returns the URL etcd serves clients on: a unix socket in dir, so that no other
// process can take its address between our choosing and etcd's listening on it, and only
// the server's user can reach it (dir is 0700). A data directory whose path is too long for
// a socket falls back to a free loopback port.
func clientURLIn(dir string) (*url.URL, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "client.sock"))
	if err != nil {
		return nil, err
	}
	if len(abs) > maxSocketPath {
		return freeLoopbackURL()
	}
	// A socket left behind by a killed server would make the listen fail.
	if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &url.URL{Scheme: "unix", Path: abs}, nil
}

// freeLoopbackURL returns an http URL on a port that was free a moment ago. The peer port is
// only used by this single member, and a restart may pick another: etcd does not re-validate
// the initial cluster when its data directory already exists.
func freeLoopbackURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, err
	}
	return url.Parse("http://" + addr)
}
