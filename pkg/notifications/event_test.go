package notifications

import (
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func manifestPush(mutate func(*Event)) Event {
	ev := Event{
		ID:     "ev-1",
		Action: "push",
		Target: Target{
			MediaType:  "application/vnd.docker.distribution.manifest.v2+json",
			Digest:     testDigest,
			Size:       528,
			Repository: "team/app",
			URL:        "https://registry.internal:5000/v2/team/app/manifests/" + testDigest,
			Tag:        "1.0",
		},
		Request: Request{ID: "req-1", Host: "registry.example.com"},
	}
	if mutate != nil {
		mutate(&ev)
	}
	return ev
}

func TestPushOf(t *testing.T) {
	tests := []struct {
		name     string
		event    Event
		override string
		want     push
		// ignored or rejected (error text) when want is empty
		ignored  bool
		rejected string
		// url is the registry URL to read from; default https://registry.internal:5000
		url string
	}{
		{
			name:  "push by tag",
			event: manifestPush(nil),
			want:  push{id: "ev-1", host: "registry.example.com", namespace: "team", name: "app", tag: "1.0", digest: testDigest},
		},
		{
			name:  "push by digest of an OCI index",
			event: manifestPush(func(e *Event) { e.Target.Tag = ""; e.Target.MediaType = "application/vnd.oci.image.index.v1+json" }),
			want:  push{id: "ev-1", host: "registry.example.com", namespace: "team", name: "app", digest: testDigest},
		},
		{
			name:     "host from the override",
			event:    manifestPush(nil),
			override: "registry.public:443",
			want:     push{id: "ev-1", host: "registry.public:443", namespace: "team", name: "app", tag: "1.0", digest: testDigest},
		},
		{
			name:  "host from the URL without request.host",
			event: manifestPush(func(e *Event) { e.Request.Host = "" }),
			want:  push{id: "ev-1", host: "registry.internal:5000", namespace: "team", name: "app", tag: "1.0", digest: testDigest},
		},
		{
			name:  "a URL host without a port",
			event: manifestPush(func(e *Event) { e.Target.URL = "http://registry/v2/team/app/manifests/" + testDigest }),
			want:  push{id: "ev-1", host: "registry.example.com", namespace: "team", name: "app", tag: "1.0", digest: testDigest},
			url:   "http://registry:80",
		},
		{name: "pull", event: manifestPush(func(e *Event) { e.Action = "pull" }), ignored: true},
		{name: "delete", event: manifestPush(func(e *Event) { e.Action = "delete" }), ignored: true},
		{name: "blob push", event: manifestPush(func(e *Event) { e.Target.MediaType = "application/octet-stream" }), ignored: true},
		{name: "artifact manifest type", event: manifestPush(func(e *Event) { e.Target.MediaType = "application/vnd.cncf.helm.config.v1+json" }), ignored: true},
		{name: "bad digest", event: manifestPush(func(e *Event) { e.Target.Digest = "sha256:xyz" }), rejected: "not a digest"},
		{name: "no digest", event: manifestPush(func(e *Event) { e.Target.Digest = "" }), rejected: "not a digest"},
		{name: "one-segment repository", event: manifestPush(func(e *Event) { e.Target.Repository = "app" }), rejected: "not <namespace>/<name>"},
		{name: "three-segment repository", event: manifestPush(func(e *Event) { e.Target.Repository = "a/b/c" }), rejected: "not <namespace>/<name>"},
		{name: "invalid namespace", event: manifestPush(func(e *Event) { e.Target.Repository = "Team_X/app" }), rejected: "namespace"},
		{name: "empty name", event: manifestPush(func(e *Event) { e.Target.Repository = "team/" }), rejected: "invalid image stream name"},
		{name: "dot-dot name", event: manifestPush(func(e *Event) { e.Target.Repository = "team/.." }), rejected: "invalid image stream name"},
		{name: "no URL", event: manifestPush(func(e *Event) { e.Target.URL = "" }), rejected: "target.url"},
		{name: "non-HTTP URL", event: manifestPush(func(e *Event) { e.Target.URL = "file:///etc/passwd" }), rejected: "target.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pushOf(tt.event, tt.override)
			switch {
			case tt.ignored:
				if _, ok := err.(errIgnored); !ok {
					t.Fatalf("want ignored, got %+v, %v", got, err)
				}
			case tt.rejected != "":
				if _, ok := err.(errIgnored); ok || err == nil || !strings.Contains(err.Error(), tt.rejected) {
					t.Fatalf("want rejection %q, got %+v, %v", tt.rejected, got, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				wantURL := tt.url
				if wantURL == "" {
					wantURL = "https://registry.internal:5000"
				}
				if got.registryURL == nil || got.registryURL.String() != wantURL {
					t.Errorf("registry URL %v", got.registryURL)
				}
				got.registryURL = nil
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func TestParseEnvelope(t *testing.T) {
	body := `{"events":[{"id":"a","timestamp":"2026-01-02T03:04:05.123456789Z","action":"push",
	 "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + testDigest + `","size":10,"length":10,
	  "repository":"ns/img","url":"http://127.0.0.1:5000/v2/ns/img/manifests/` + testDigest + `","tag":"latest"},
	 "request":{"id":"r","addr":"127.0.0.1:40000","host":"127.0.0.1:5000","method":"PUT","useragent":"go"},
	 "actor":{"name":"alice"},"source":{"addr":"registry:5000","instanceID":"i"}},
	 {"id":"b","action":"pull","target":{}}]}`
	env, err := parseEnvelope([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Events) != 2 || env.Events[0].Target.Tag != "latest" || env.Events[0].Request.Host != "127.0.0.1:5000" || env.Events[1].Action != "pull" {
		t.Errorf("parsed %+v", env)
	}
	if _, err := parseEnvelope([]byte(`{"events":`)); err == nil {
		t.Error("a truncated body was accepted")
	}
}
