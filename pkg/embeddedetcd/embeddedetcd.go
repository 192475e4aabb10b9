// Package embeddedetcd runs etcd inside the server process when no --etcd-servers are given
// (D10), so `make run` needs nothing but the binary.
//
// The embedded etcd opens no TCP port at all: clients reach it only through a unix socket in
// a directory that only the server's user can enter, and the single member has no peer
// listener, since a one-member cluster never talks to peers. A TCP port on loopback would be
// reachable without credentials by every local user and process.
package embeddedetcd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	// socketDir is the private directory created for the client socket when the data
	// directory's path is too long for one; Close removes it. Empty otherwise.
	socketDir string
	// closing tells etcd's logger that listener errors are expected from now on.
	closing *atomic.Bool
}

// Start runs a single-member etcd with its data under dir, serving clients only on a unix
// socket. It returns once etcd serves clients, or fails after timeout.
func Start(ctx context.Context, dir string, timeout time.Duration) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// etcd refuses a data directory readable by others, and the client socket in it must be
	// reachable by the server's user only.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	clientURL, socketDir, err := clientSocket(dir)
	if err != nil {
		return nil, err
	}
	removeSocketDir := func() {
		if socketDir != "" {
			_ = os.RemoveAll(socketDir)
		}
	}
	cfg := embed.NewConfig()
	cfg.Name = "image-apiserver"
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	// No peer listener. The member still needs a peer URL: it is its identity in the
	// cluster's membership, and etcd checks that the initial cluster names it. Nobody dials
	// it, because a member only connects to the other members and there are none.
	//
	// A data directory written by an earlier version, whose member was created with a
	// loopback TCP peer URL, keeps that URL in its membership: on restart etcd reads the
	// membership from its data and ignores the initial cluster and the advertised peer URLs,
	// so it starts the same way, still without listening on the old URL.
	cfg.ListenPeerUrls = nil
	cfg.AdvertisePeerUrls = []url.URL{peerURL(dir)}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	cfg.ListenClientHttpUrls = nil
	cfg.LogLevel = "error"
	closing := &atomic.Bool{}
	logger, err := newLogger(closing)
	if err != nil {
		removeSocketDir()
		return nil, err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		removeSocketDir()
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	fail := func(err error) (*Etcd, error) {
		closing.Store(true)
		e.Close()
		removeSocketDir()
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Etcd{etcd: e, clientURL: clientURL.String(), socketDir: socketDir, closing: closing}, nil
	case err := <-e.Err():
		return fail(fmt.Errorf("embedded etcd failed: %w", err))
	case <-time.After(timeout):
		return fail(fmt.Errorf("embedded etcd in %s was not ready after %s", dir, timeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// ClientURL is the URL to pass as --etcd-servers: unix://<absolute socket path>.
func (e *Etcd) ClientURL() string { return e.clientURL }

// Close stops etcd, waits until its data is flushed, and removes the socket directory it
// created, if any.
func (e *Etcd) Close() {
	e.closing.Store(true)
	e.etcd.Close()
	if e.socketDir != "" {
		_ = os.RemoveAll(e.socketDir)
	}
}

// maxSocketPath is the longest unix socket path Linux and macOS accept (sun_path holds 108
// and 104 bytes, including the terminating NUL).
const maxSocketPath = 103

// socketName is the client socket's file name.
const socketName = "client.sock"

// socketDirPattern names the private directories made for sockets that do not fit in the
// data directory; os.MkdirTemp replaces the "*" with a random string.
const socketDirPattern = "image-apiserver-etcd-*"

// clientSocket returns the unix socket URL etcd serves clients on. A unix socket rather than
// a port: only the server's user can reach it (its directory is 0700), and no other process
// can take its address between our choosing and etcd's listening on it.
//
// The socket is <dir>/client.sock. When that path is too long for a socket address, it is in
// a new directory of mode 0700 under $XDG_RUNTIME_DIR (per user, private) or else the
// system's temporary directory, which is returned as socketDir for Close to remove.
func clientSocket(dir string) (u *url.URL, socketDir string, err error) {
	abs, err := filepath.Abs(filepath.Join(dir, socketName))
	if err != nil {
		return nil, "", err
	}
	if len(abs) > maxSocketPath {
		if socketDir, err = shortSocketDir(); err != nil {
			return nil, "", fmt.Errorf("the embedded etcd's socket %s is longer than the %d bytes a unix socket path may have: %w", abs, maxSocketPath, err)
		}
		return &url.URL{Scheme: "unix", Path: filepath.Join(socketDir, socketName)}, socketDir, nil
	}
	// A socket left behind by a killed server would make the listen fail.
	if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	return &url.URL{Scheme: "unix", Path: abs}, "", nil
}

// shortSocketDir creates a private (0700) directory whose socket path fits in a socket
// address.
func shortSocketDir() (string, error) {
	// The longest name os.MkdirTemp can make from the pattern: its random part is at most
	// 10 digits.
	suffix := len(string(filepath.Separator)) + len(socketDirPattern) - 1 + 10 + len(string(filepath.Separator)) + len(socketName)
	var tried []string
	for _, base := range []string{os.Getenv("XDG_RUNTIME_DIR"), os.TempDir()} {
		if base == "" || !filepath.IsAbs(base) {
			continue
		}
		if len(base)+suffix > maxSocketPath {
			tried = append(tried, base)
			continue
		}
		return os.MkdirTemp(base, socketDirPattern)
	}
	return "", fmt.Errorf("no directory short enough for it (tried %q): use a shorter --data-dir or TMPDIR", tried)
}

// peerURL is the member's advertised peer URL: a unix socket path next to the client socket
// that nothing listens on (see Start).
func peerURL(dir string) url.URL {
	abs, err := filepath.Abs(filepath.Join(dir, "peer.sock"))
	if err != nil {
		abs = filepath.Join(dir, "peer.sock")
	}
	return url.URL{Scheme: "unix", Path: abs}
}
