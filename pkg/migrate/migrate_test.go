package migrate_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"

	"github.com/image-apiserver/image-apiserver/pkg/migrate"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout/layouttest"
)

func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	server, _ := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	return server.V3Client.Client
}

// values are keys relative to a side's prefix with their values: "images/<name>" and
// "imagestreams/<namespace>/<name>", laid out under each side's roots by put.
type values map[string]string

// put writes vals under the roots of the endpoint: "images/x" goes to Root(images)+"x".
func put(t *testing.T, ctx context.Context, e migrate.Endpoint, vals values) {
	t.Helper()
	for rel, v := range vals {
		if _, err := e.Client.Put(ctx, absolute(t, e, rel), v); err != nil {
			t.Fatal(err)
		}
	}
}

func absolute(t *testing.T, e migrate.Endpoint, rel string) string {
	t.Helper()
	resource, rest, _ := strings.Cut(rel, "/")
	return e.Root(imagev1.Resource(resource)) + rest
}

// read returns everything under the endpoint's roots, relative to them as in values.
func read(t *testing.T, ctx context.Context, e migrate.Endpoint) values {
	t.Helper()
	out := values{}
	for _, r := range migrate.Resources {
		root := e.Root(r.GroupResource)
		resp, err := e.Client.Get(ctx, root, clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range resp.Kvs {
			out[r.Resource+"/"+strings.TrimPrefix(string(kv.Key), root)] = string(kv.Value)
		}
	}
	return out
}

func revision(t *testing.T, ctx context.Context, c *clientv3.Client) int64 {
	t.Helper()
	resp, err := c.Get(ctx, "revision-probe")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// counts are an outcome's counters, per resource, for comparison.
type counts struct {
	Read, Copied, Identical, Differing, Overwritten, Invalid, Source, Destination int64
}

func countsOf(r *migrate.Report) map[string]counts {
	out := map[string]counts{}
	for _, o := range r.Outcomes {
		out[o.Resource.Resource] = counts{o.Read, o.Copied, o.Identical, o.Differing, o.Overwritten, o.Invalid, o.SourceCount, o.DestinationCount}
	}
	return out
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srcClient, dstClient := startEtcd(t), startEtcd(t)

	enc := func(obj interface {
		Marshal() ([]byte, error)
	}) string {
		t.Helper()
		var (
			v   []byte
			err error
		)
		switch o := obj.(type) {
		case *imagev1.Image:
			v, err = layouttest.Encode(o)
		case *imagev1.ImageStream:
			v, err = layouttest.Encode(o)
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	img := func(n int) (string, string) {
		i := layouttest.Image(n, "team", "app")
		return "images/" + i.Name, enc(i)
	}
	stream := func(ns, name string) (string, string) {
		return "imagestreams/" + ns + "/" + name, enc(layouttest.ImageStream(ns, name, 1, layouttest.Image(1, ns, name)))
	}
	some := func(n int) values {
		v := values{}
		for i := 0; i < n; i++ {
			k, val := img(i)
			v[k] = val
		}
		k, val := stream("team", "app")
		v[k] = val
		k, val = stream("other", "web")
		v[k] = val
		return v
	}
	with := func(base values, extra ...string) values {
		v := maps.Clone(base)
		for i := 0; i+1 < len(extra); i += 2 {
			v[extra[i]] = extra[i+1]
		}
		return v
	}
	img0, img0Value := img(0)
	_, img1Value := img(1)
	img7, img7Value := img(7)
	streamKey, streamValue := stream("team", "app")

	tests := []struct {
		name        string
		source      values
		destination values
		// sameCluster puts the destination into the source's etcd.
		sameCluster bool
		from, to    layout.Layout
		opts        migrate.Options
		// want are the counters per resource; wantDestination the destination afterwards
		// (nil: the source, exactly).
		want            map[string]counts
		wantDestination values
		wantReportErr   string
		wantRunErr      string
		// wantProblems are fragments the listed problems must contain.
		wantProblems []string
		// checkTxns checks that the destination saw wantTxns write transactions.
		checkTxns bool
		wantTxns  int64
	}{
		{
			name:   "empty destination: everything copied",
			source: some(5), from: layout.OpenShift, to: layout.Default,
			want:      map[string]counts{"images": {Read: 5, Copied: 5, Source: 5, Destination: 5}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
			checkTxns: true, wantTxns: 2, // one per resource
		},
		{
			name:   "back from the default layout to OpenShift's",
			source: some(3), from: layout.Default, to: layout.OpenShift,
			want: map[string]counts{"images": {Read: 3, Copied: 3, Source: 3, Destination: 3}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
		},
		{
			name:   "a second run copies nothing",
			source: some(3), destination: some(3), from: layout.OpenShift, to: layout.Default,
			want:      map[string]counts{"images": {Read: 3, Identical: 3, Source: 3, Destination: 3}, "imagestreams": {Read: 2, Identical: 2, Source: 2, Destination: 2}},
			checkTxns: true, wantTxns: 0,
		},
		{
			name:   "a differing value is reported and left alone",
			source: some(2), destination: with(some(2), img0, img1Value), from: layout.OpenShift, to: layout.Default,
			want:            map[string]counts{"images": {Read: 2, Identical: 1, Differing: 1, Source: 2, Destination: 2}, "imagestreams": {Read: 2, Identical: 2, Source: 2, Destination: 2}},
			wantDestination: with(some(2), img0, img1Value),
			wantReportErr:   "1 images.image.openshift.io differ in the destination",
			wantProblems:    []string{"/dst/image.openshift.io/images/" + strings.TrimPrefix(img0, "images/")},
		},
		{
			name:   "--overwrite replaces a differing value",
			source: some(2), destination: with(some(2), img0, img1Value), from: layout.OpenShift, to: layout.Default,
			opts: migrate.Options{Overwrite: true},
			want: map[string]counts{"images": {Read: 2, Identical: 1, Overwritten: 1, Source: 2, Destination: 2}, "imagestreams": {Read: 2, Identical: 2, Source: 2, Destination: 2}},
		},
		{
			name:   "a dry run counts and writes nothing",
			source: some(4), destination: with(values{}, img0, img1Value), from: layout.OpenShift, to: layout.Default,
			opts:            migrate.Options{DryRun: true},
			want:            map[string]counts{"images": {Read: 4, Copied: 3, Differing: 1, Source: 4, Destination: 1}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 0}},
			wantDestination: with(values{}, img0, img1Value),
			checkTxns:       true, wantTxns: 0,
		},
		{
			name: "invalid values are reported and not copied",
			source: with(some(1),
				"images/sha256:"+strings.Repeat("a", 64), "{not protobuf",
				"images/sha256:"+strings.Repeat("b", 64), "k8s:enc:aesgcm:v1:key1:...",
				"images/sha256:"+strings.Repeat("c", 64), img0Value, // another image's value
				"images/"+strings.TrimPrefix(streamKey, "imagestreams/"), streamValue, // a stream under images
				"imagestreams/team", streamValue, // no namespace segment
				"imagestreams/other/app", streamValue, // the stream of another namespace
			),
			from: layout.OpenShift, to: layout.Default,
			want:            map[string]counts{"images": {Read: 5, Copied: 1, Invalid: 4, Source: 5, Destination: 1}, "imagestreams": {Read: 4, Copied: 2, Invalid: 2, Source: 4, Destination: 2}},
			wantDestination: some(1),
			wantReportErr:   "4 images.image.openshift.io in the source do not decode",
			wantProblems: []string{"does not decode", "encrypted at rest", "not the one its key names", "has 2 non-empty path segments after the root; Image keys have 1", "has 1 non-empty path segments after the root; ImageStream keys have 2",
				`holds ImageStream "app" in namespace "team"`},
		},
		{
			name:   "resume after a key reads only what follows",
			source: some(5), from: layout.OpenShift, to: layout.Default,
			// The third image in key order; filled in below.
			opts: migrate.Options{ResumeAfter: "third image"},
			want: map[string]counts{"images": {Read: 2, Copied: 2, Source: 5, Destination: 2}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
			// The first three images were not copied, so the counts differ.
			wantDestination: nil,
			wantReportErr:   "images.image.openshift.io: the source has 5",
		},
		{
			name:   "resume after a stream skips the images",
			source: some(3), from: layout.OpenShift, to: layout.Default,
			opts:          migrate.Options{ResumeAfter: "first stream"},
			want:          map[string]counts{"images": {Source: 3}, "imagestreams": {Read: 1, Copied: 1, Source: 2, Destination: 1}},
			wantReportErr: "images.image.openshift.io: the source has 3",
		},
		{
			name:   "small pages and transactions",
			source: some(5), from: layout.OpenShift, to: layout.Default,
			opts:      migrate.Options{PageSize: 2, TxnMaxOps: 2},
			want:      map[string]counts{"images": {Read: 5, Copied: 5, Source: 5, Destination: 5}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
			checkTxns: true, wantTxns: 3 + 1, // images in pages of 2, 2, 1; both streams in one page
		},
		{
			name:   "a transaction takes at most TxnMaxBytes",
			source: some(3), from: layout.OpenShift, to: layout.Default,
			opts:      migrate.Options{TxnMaxBytes: 1},
			want:      map[string]counts{"images": {Read: 3, Copied: 3, Source: 3, Destination: 3}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
			checkTxns: true, wantTxns: 3 + 2, // one value each
		},
		{
			name:   "a destination with more objects than the source fails the check",
			source: some(1), destination: with(values{}, img7, img7Value), from: layout.OpenShift, to: layout.Default,
			want:            map[string]counts{"images": {Read: 1, Copied: 1, Source: 1, Destination: 2}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
			wantDestination: with(some(1), img7, img7Value),
			wantReportErr:   "images.image.openshift.io: the source has 1",
		},
		{
			name:   "same cluster, other layout",
			source: some(2), sameCluster: true, from: layout.OpenShift, to: layout.Default,
			want: map[string]counts{"images": {Read: 2, Copied: 2, Source: 2, Destination: 2}, "imagestreams": {Read: 2, Copied: 2, Source: 2, Destination: 2}},
		},
		{
			name:   "same cluster, same keys: refused",
			source: some(1), sameCluster: true, from: layout.OpenShift, to: layout.OpenShift,
			wantRunErr: "overlap",
		},
		{
			name:   "a resume key outside the source",
			source: some(1),
			from:   layout.OpenShift, to: layout.Default,
			opts:       migrate.Options{ResumeAfter: "/elsewhere/x"},
			wantRunErr: "not under the source's roots",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Every case has prefixes of its own in the two etcds.
			src := migrate.Endpoint{Client: srcClient, Layout: tc.from, Prefix: fmt.Sprintf("/case%d/src", i)}
			dst := migrate.Endpoint{Client: dstClient, Layout: tc.to, Prefix: fmt.Sprintf("/case%d/dst", i)}
			if tc.sameCluster {
				dst.Client = srcClient
				if tc.from == tc.to {
					dst.Prefix = src.Prefix
				}
			}
			put(t, ctx, src, tc.source)
			put(t, ctx, dst, tc.destination)
			opts := tc.opts
			opts.Source, opts.Destination = src, dst
			switch opts.ResumeAfter {
			case "third image":
				keys := slices.Sorted(maps.Keys(tc.source))
				opts.ResumeAfter = absolute(t, src, keys[2])
			case "first stream":
				opts.ResumeAfter = absolute(t, src, "imagestreams/other/web")
			}
			var progress bytes.Buffer
			opts.Progress = &progress
			before := revision(t, ctx, dst.Client)

			report, err := migrate.Run(ctx, opts)
			if tc.wantRunErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantRunErr) {
					t.Fatalf("Run: %v, want an error about %q", err, tc.wantRunErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := countsOf(report); !maps.Equal(got, tc.want) {
				t.Errorf("counts %+v, want %+v\nprogress:\n%s", got, tc.want, progress.String())
			}
			reportErr := report.Err()
			if tc.wantReportErr == "" && reportErr != nil {
				t.Errorf("report: %v, want none", reportErr)
			}
			if tc.wantReportErr != "" && (reportErr == nil || !strings.Contains(reportErr.Error(), tc.wantReportErr)) {
				t.Errorf("report: %v, want an error about %q", reportErr, tc.wantReportErr)
			}
			if opts.ResumeAfter == "" {
				wantDst := tc.wantDestination
				if wantDst == nil {
					wantDst = tc.source
				}
				if got := read(t, ctx, dst); !maps.Equal(got, wantDst) {
					t.Errorf("destination holds %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(wantDst)))
				}
			}
			if got := read(t, ctx, src); !maps.Equal(got, tc.source) {
				t.Error("the source changed")
			}
			var problems string
			for _, o := range report.Outcomes {
				problems += strings.Join(o.Problems, "\n") + "\n"
			}
			for _, p := range tc.wantProblems {
				if !strings.Contains(problems, p) {
					t.Errorf("problems lack %q:\n%s", p, problems)
				}
			}
			if tc.checkTxns {
				if got := revision(t, ctx, dst.Client) - before; got != tc.wantTxns {
					t.Errorf("the destination saw %d write transactions, want %d", got, tc.wantTxns)
				}
			}
			if report.Outcomes[0].Read+report.Outcomes[1].Read > 0 && !strings.Contains(progress.String(), "last key "+report.LastKey) {
				t.Errorf("progress does not name the last key %s:\n%s", report.LastKey, progress.String())
			}
		})
	}
}
