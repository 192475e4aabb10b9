package notifications

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation"
)

// MediaType is the Content-Type of the registry's notification POSTs.
const MediaType = "application/vnd.docker.distribution.events.v2+json"

// Envelope is the body of a notification POST. Registry v3 sends one event per POST, v2 a
// batch.
type Envelope struct {
	Events []Event `json:"events"`
}

// Event is the part of a registry event that matters here.
type Event struct {
	ID      string  `json:"id"`
	Action  string  `json:"action"`
	Target  Target  `json:"target"`
	Request Request `json:"request"`
}

// Target is what the event is about: for a manifest, its descriptor, repository, tag when it
// was pushed by tag, and the URL the registry serves it at.
type Target struct {
	MediaType  string `json:"mediaType"`
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	Repository string `json:"repository"`
	URL        string `json:"url"`
	Tag        string `json:"tag"`
}

// Request is the client request that caused the event; host is the registry's name as the
// pushing client spelled it.
type Request struct {
	ID   string `json:"id"`
	Host string `json:"host"`
}

// push is a manifest push event, checked: what to fetch and where to record it.
type push struct {
	id string
	// registryURL is the scheme and host of the registry as it announced itself: where the
	// manifest is read.
	registryURL *url.URL
	// host is the registry name clients pull from: dockerImageReference's host.
	host            string
	namespace, name string
	tag, digest     string
}

// repository is `<ns>/<name>` in the registry.
func (p push) repository() string { return p.namespace + "/" + p.name }

// manifestTypes are the media types of manifests the image API records.
var manifestTypes = map[string]bool{
	string(types.DockerManifestSchema2):       true,
	string(types.OCIManifestSchema1):          true,
	string(types.DockerManifestList):          true,
	string(types.OCIImageIndex):               true,
	string(types.DockerManifestSchema1):       true,
	string(types.DockerManifestSchema1Signed): true,
}

// errIgnored says an event is not a manifest push: acknowledged, nothing to record.
type errIgnored struct{ reason string }

func (e errIgnored) Error() string { return e.reason }

// parseEnvelope decodes a POST body.
func parseEnvelope(body []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("not a notification envelope: %w", err)
	}
	return env, nil
}

// pushOf checks that ev is a manifest push the image API can record. hostOverride, when set,
// names the registry in dockerImageReference instead of the pushing client's spelling. The
// error is errIgnored for an event that is not a manifest push, and otherwise says why the
// event can never be recorded.
func pushOf(ev Event, hostOverride string) (push, error) {
	t := ev.Target
	if ev.Action != "push" {
		return push{}, errIgnored{fmt.Sprintf("action %q", ev.Action)}
	}
	if !manifestTypes[t.MediaType] {
		// Blob pushes and manifests of other kinds (artifacts) are not images.
		return push{}, errIgnored{fmt.Sprintf("media type %q", t.MediaType)}
	}
	p := push{id: ev.ID, tag: t.Tag, digest: t.Digest}
	if _, err := v1.NewHash(t.Digest); err != nil {
		return push{}, fmt.Errorf("target.digest %q is not a digest", t.Digest)
	}
	ns, name, ok := strings.Cut(t.Repository, "/")
	if !ok || strings.Contains(name, "/") {
		return push{}, fmt.Errorf("repository %q is not <namespace>/<name>", t.Repository)
	}
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return push{}, fmt.Errorf("repository %q: namespace: %s", t.Repository, strings.Join(msgs, "; "))
	}
	if msgs := path.IsValidPathSegmentName(name); len(msgs) > 0 || name == "" {
		return push{}, fmt.Errorf("repository %q: invalid image stream name", t.Repository)
	}
	p.namespace, p.name = ns, name
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return push{}, fmt.Errorf("target.url %q is not an http(s) URL", t.URL)
	}
	p.registryURL = &url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.Port() == "" {
		// A host without a dot or port ("registry", a service name) would be read as the
		// first path component of a Docker Hub repository; an explicit port keeps it a host.
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		p.registryURL.Host = net.JoinHostPort(u.Hostname(), port)
	}
	switch {
	case hostOverride != "":
		p.host = hostOverride
	case ev.Request.Host != "":
		p.host = ev.Request.Host
	default:
		p.host = u.Host
	}
	return p, nil
}
