package importer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/time/rate"
)

// errPlainHTTP refuses a plain-HTTP request of an image that is not insecure. The registry
// client falls back to HTTP by itself for loopback and private addresses; an import must not.
type errPlainHTTP struct{ host string }

func (e errPlainHTTP) Error() string {
	return fmt.Sprintf("plain HTTP to %s refused: the image is not imported as insecure", e.host)
}

// limiter is what a registry host's requests wait for; *rate.Limiter in production.
type limiter interface {
	Wait(ctx context.Context) error
}

// hostLimiters holds one token bucket per registry host, shared by every request of the
// server.
type hostLimiters struct {
	newLimiter func() limiter

	mu    sync.Mutex
	hosts map[string]limiter
}

// maxIdleLimiters bounds the map: beyond it, buckets that are full again (their host idle for
// a while) are dropped, so that imports from ever new hosts cannot grow it without end.
const maxIdleLimiters = 1024

func (h *hostLimiters) get(host string) limiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.hosts[host]; ok {
		return l
	}
	if len(h.hosts) >= maxIdleLimiters {
		for k, l := range h.hosts {
			if rl, ok := l.(*rate.Limiter); ok && rl.Tokens() >= float64(rl.Burst()) {
				delete(h.hosts, k)
			}
		}
	}
	l := h.newLimiter()
	h.hosts[host] = l
	return l
}

// rateLimited reports whether a registry request takes a token: manifest and tag-list requests,
// the ones whose number grows with the size of an import. The /v2/ ping, token requests and
// the config blob of each manifest do not.
func rateLimited(path string) bool {
	return strings.Contains(path, "/manifests/") || strings.HasSuffix(path, "/tags/list")
}

// registryTransport is the innermost transport of every registry request: below the registry
// client's authentication and retries, so that every attempt of a retried request takes its
// own token.
type registryTransport struct {
	base     http.RoundTripper
	insecure bool
	limits   *hostLimiters
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.insecure {
		return nil, errPlainHTTP{host: req.URL.Host}
	}
	if rateLimited(req.URL.Path) {
		if err := t.limits.get(req.URL.Host).Wait(req.Context()); err != nil {
			return nil, fmt.Errorf("waiting for the rate limit of %s: %w", req.URL.Host, err)
		}
	}
	return t.base.RoundTrip(req)
}

// newTransports returns the transports of secure and insecure images.
func newTransports(base *http.Transport, limits *hostLimiters) (secure, insecure http.RoundTripper) {
	unverified := base.Clone()
	if unverified.TLSClientConfig == nil {
		unverified.TLSClientConfig = &tls.Config{}
	}
	unverified.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for importPolicy.insecure images
	return &registryTransport{base: base, limits: limits},
		&registryTransport{base: unverified, insecure: true, limits: limits}
}
