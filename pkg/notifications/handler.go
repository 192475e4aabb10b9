package notifications

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/klog/v2"
)

// Path is where the server takes the registry's notifications.
const Path = "/notifications/distribution"

const (
	// maxBodyBytes bounds a POST. An event is about 1 KiB; with the registry's
	// includereferences, a manifest list adds some 200 bytes per child.
	maxBodyBytes = 4 << 20
	// defaultTimeout bounds the work of one POST. The registry's own timeout (1 s by default)
	// may be shorter: it then sends the event again, which records nothing twice.
	defaultTimeout = 30 * time.Second
	// retryAfterSeconds is the Retry-After of a 503. The registry backs off by its own
	// settings; other clients may honour it.
	retryAfterSeconds = "1"
)

// Fetcher reads a pushed manifest from the registry and builds its Images (the importer).
type Fetcher interface {
	FetchDigest(ctx context.Context, repository, digest string, insecure bool, keychain authn.Keychain) (*imagev1.Image, []imagev1.Image, error)
}

// Config configures the handler.
type Config struct {
	// Token is the bearer token the registry sends (its endpoint's Authorization header);
	// empty accepts no token.
	Token []byte
	// ClientCertificates, when set, authenticates a request by its TLS client certificate:
	// a request it authenticates is accepted without a token. At least one of Token and
	// ClientCertificates is required.
	ClientCertificates authenticator.Request
	// RegistryHost, when set, is the registry host[:port] of dockerImageReference. Otherwise
	// it is the host the pushing client named (the event's request.host), which is what
	// clients pull from.
	RegistryHost string
	Fetcher      Fetcher
	// Keychain gives the credentials to read the registry; nil is anonymous.
	Keychain authn.Keychain
	Recorder Recorder
	// Timeout bounds one POST; zero means 30 s.
	Timeout time.Duration
}

// Handler takes the registry's notification POSTs. It is served outside the API's
// authentication and authorization: the bearer token, or a client certificate, is its only
// access check.
type Handler struct {
	cfg Config
	// tokenHash is nil when no token is accepted.
	tokenHash *[sha256.Size]byte
}

// New returns the handler.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Token) == 0 && cfg.ClientCertificates == nil {
		return nil, errors.New("registry notifications need a token or a client certificate authority")
	}
	if cfg.Fetcher == nil || cfg.Recorder == nil {
		return nil, errors.New("registry notifications need a fetcher and a recorder")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	h := &Handler{cfg: cfg}
	if len(cfg.Token) > 0 {
		sum := sha256.Sum256(cfg.Token)
		h.tokenHash = &sum
	}
	return h, nil
}

// EventResult is the answer about one event.
type EventResult struct {
	ID      string `json:"id,omitempty"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

// Answer is the body of every answer to an accepted POST.
type Answer struct {
	Events []EventResult `json:"events"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			klog.ErrorS(fmt.Errorf("panic: %v", p), "Registry notification handler panicked")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "registry notifications are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		message := "a valid client certificate is required"
		if h.tokenHash != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="registry notifications"`)
			message = "a valid bearer token is required"
			if h.cfg.ClientCertificates != nil {
				message = "a valid bearer token or client certificate is required"
			}
		}
		http.Error(w, message, http.StatusUnauthorized)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != MediaType && mt != "application/json") {
		http.Error(w, fmt.Sprintf("the body must be %s", MediaType), http.StatusUnsupportedMediaType)
		return
	}
	// The API's request filters (body timeout among them) do not run for this path: bound
	// the time a body may take here. A server that cannot set it keeps its own timeouts.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.Timeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("the body exceeds %d bytes", maxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	answer, retry := h.handle(ctx, body)
	w.Header().Set("Content-Type", "application/json")
	code := http.StatusOK
	if retry {
		// Events recorded before the failure stay recorded; the registry sends the whole
		// POST again, and recording them again changes nothing.
		w.Header().Set("Retry-After", retryAfterSeconds)
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(answer)
}

// authorized accepts the bearer token or a client certificate.
func (h *Handler) authorized(r *http.Request) bool {
	return h.tokenMatches(r) || h.certificateAccepted(r)
}

// tokenMatches compares the bearer token in constant time (hashes first, so that not even the
// token's length leaks).
func (h *Handler) tokenMatches(r *http.Request) bool {
	if h.tokenHash == nil {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1
}

// certificateAccepted verifies the request's client certificate; why one is refused is
// logged, as the client only sees a 401.
func (h *Handler) certificateAccepted(r *http.Request) bool {
	if h.cfg.ClientCertificates == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	resp, ok, err := h.cfg.ClientCertificates.AuthenticateRequest(r)
	if err != nil || !ok {
		klog.FromContext(r.Context()).V(2).Info("Refused a registry notification's client certificate",
			"subject", r.TLS.PeerCertificates[0].Subject.String(), "err", err)
		return false
	}
	klog.FromContext(r.Context()).V(4).Info("Registry notification from a client certificate", "user", resp.User.GetName())
	return true
}

// handle records the events of a body in order (a manifest list's children are pushed, and
// notified, before the list) and reports whether any must be sent again.
func (h *Handler) handle(ctx context.Context, body []byte) (Answer, bool) {
	env, err := parseEnvelope(body)
	if err != nil {
		// Not something a registry sends; refusing it would block the registry's queue
		// forever if one ever did.
		klog.FromContext(ctx).Info("Warning: ignoring an undecodable registry notification", "err", err)
		countOutcome(outcomeRejected)
		return Answer{Events: []EventResult{{Outcome: outcomeRejected, Message: err.Error()}}}, false
	}
	answer := Answer{Events: make([]EventResult, 0, len(env.Events))}
	retry := false
	for _, ev := range env.Events {
		res := h.event(ctx, ev)
		countOutcome(res.Outcome)
		answer.Events = append(answer.Events, res)
		retry = retry || res.Outcome == outcomeRetry
	}
	return answer, retry
}

// event records one event.
func (h *Handler) event(ctx context.Context, ev Event) EventResult {
	log := klog.FromContext(ctx).WithValues("event", ev.ID, "repository", ev.Target.Repository, "digest", ev.Target.Digest, "tag", ev.Target.Tag)
	res := EventResult{ID: ev.ID}
	p, err := pushOf(ev, h.cfg.RegistryHost)
	var ignored errIgnored
	switch {
	case errors.As(err, &ignored):
		res.Outcome, res.Message = outcomeIgnored, "not a manifest push: "+ignored.reason
		return res
	case err != nil:
		log.Info("Warning: registry notification can never be recorded; acknowledged", "err", err)
		res.Outcome, res.Message = outcomeRejected, err.Error()
		return res
	}
	if err := h.record(ctx, p); err != nil {
		res.Message = err.Error()
		if retryable(err) {
			log.Info("Registry notification not recorded; the registry will send it again", "err", err)
			res.Outcome = outcomeRetry
		} else {
			log.Info("Warning: registry notification can never be recorded; acknowledged", "err", err)
			res.Outcome = outcomeRejected
		}
		return res
	}
	log.V(2).Info("Recorded a registry push")
	res.Outcome = outcomeRecorded
	return res
}

// record reads the pushed manifest and records it: the Images of a manifest list's children
// first, so that the list is never recorded without them; then the Image by digest, or the
// mapping by tag.
func (h *Handler) record(ctx context.Context, p push) error {
	repository := p.registryURL.Host + "/" + p.repository()
	img, children, err := h.cfg.Fetcher.FetchDigest(ctx, repository, p.digest, p.registryURL.Scheme == "http", h.cfg.Keychain)
	if err != nil {
		return fmt.Errorf("reading %s@%s from the registry: %w", repository, p.digest, err)
	}
	named := p.host + "/" + p.repository() + "@"
	for i := range children {
		children[i].DockerImageReference = named + children[i].Name
		if err := h.cfg.Recorder.CreateImage(ctx, &children[i]); err != nil {
			return fmt.Errorf("creating image %s of manifest list %s: %w", children[i].Name, p.digest, err)
		}
	}
	img.DockerImageReference = named + img.Name
	if p.tag == "" {
		if err := h.cfg.Recorder.CreateImage(ctx, img); err != nil {
			return fmt.Errorf("creating image %s: %w", img.Name, err)
		}
		return nil
	}
	if err := h.cfg.Recorder.Map(ctx, p.namespace, p.name, p.tag, img); err != nil {
		return fmt.Errorf("mapping %s to %s:%s: %w", img.Name, p.repository(), p.tag, err)
	}
	return nil
}

// retryable tells a failure that may pass (an unreachable registry or etcd, a timeout,
// contention, refused credentials an administrator can fix) from one that never will: a
// manifest the registry no longer has, or a write the API refuses as invalid.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	code := int(status.Status().Code)
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden,
		code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 400 && code < 500:
		return false
	}
	return true
}
