package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout/layouttest"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// fillOpenShift writes images and streams straight into an etcd, in openshift-apiserver's
// shape and at its keys, in transactions of 100 keys: stream i of namespace ns-<i%20> holds
// the ten images 10i..10i+9 in its tag latest. It returns the bytes of the values written.
func fillOpenShift(t *testing.T, ctx context.Context, cli *clientv3.Client, streams int) int {
	t.Helper()
	var puts []clientv3.Op
	size := 0
	flush := func() {
		if _, err := cli.Txn(ctx).Then(puts...).Commit(); err != nil {
			t.Fatal(err)
		}
		puts = puts[:0]
	}
	add := func(obj openShiftObject) {
		value, err := layouttest.Encode(obj)
		if err != nil {
			t.Fatal(err)
		}
		size += len(value)
		puts = append(puts, clientv3.OpPut(openShiftKey(obj), string(value)))
		if len(puts) == 100 {
			flush()
		}
	}
	for i := 0; i < streams; i++ {
		ns, name := fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("app-%d", i)
		var images []*imagev1.Image
		for j := 0; j < 10; j++ {
			img := layouttest.Image(10*i+j, ns, name)
			images = append(images, img)
			add(img)
		}
		add(layouttest.ImageStream(ns, name, i, images...))
	}
	if len(puts) > 0 {
		flush()
	}
	return size
}

// migrateStorage runs image-apiserver migrate-storage and returns its output (stdout and
// stderr) and exit code.
func migrateStorage(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := framework.ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(testContext(t), bin, append([]string{"migrate-storage"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("migrate-storage: %v\n%s", err, out)
	return "", -1
}

// outcomeLine matches a report line: the resource, then its counters.
var outcomeLine = regexp.MustCompile(`(?m)^(images|imagestreams)\.image\.openshift\.io: \S+ -> \S+: read (\d+), (?:copied|to copy) (\d+), identical (\d+), differing (\d+), (?:overwritten|to overwrite) (\d+), invalid (\d+); counted: source (\d+), destination (\d+)$`)

// outcomes parses a report: per resource, read, copied, identical, differing, overwritten,
// invalid, source count, destination count.
func outcomes(t *testing.T, out string) map[string][8]int {
	t.Helper()
	got := map[string][8]int{}
	for _, m := range outcomeLine.FindAllStringSubmatch(out, -1) {
		var c [8]int
		for i := range c {
			c[i], _ = strconv.Atoi(m[i+2])
		}
		got[m[1]] = c
	}
	if len(got) != 2 {
		t.Fatalf("no report for both resources in:\n%s", out)
	}
	return got
}

// countUnder counts the keys under a prefix.
func countUnder(t *testing.T, ctx context.Context, cli *clientv3.Client, prefix string) int {
	t.Helper()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return int(resp.Count)
}

// sameValues fails unless every key under fromRoot in from has the same bytes under toRoot in
// to, and to has no other keys there.
func sameValues(t *testing.T, ctx context.Context, from *clientv3.Client, fromRoot string, to *clientv3.Client, toRoot string) {
	t.Helper()
	read := func(cli *clientv3.Client, root string) map[string][]byte {
		values := map[string][]byte{}
		key, end := root, clientv3.GetPrefixRangeEnd(root)
		for {
			resp, err := cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(2000))
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range resp.Kvs {
				values[strings.TrimPrefix(string(kv.Key), root)] = kv.Value
			}
			if !resp.More {
				return values
			}
			key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	a, b := read(from, fromRoot), read(to, toRoot)
	if len(a) != len(b) {
		t.Errorf("%s holds %d keys, %s %d", fromRoot, len(a), toRoot, len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Errorf("%s%s and %s%s differ", fromRoot, k, toRoot, k)
			return
		}
	}
}

// TestMigrateStorage migrates 10 000 images and 1 000 streams written in openshift-apiserver's
// shape and keys from one etcd into another that serves TLS and requires client
// certificates, through the real binary: a dry run counts and writes nothing; a run killed
// after its first page resumes with --resume-after; a second run copies nothing; every value
// arrives byte for byte, and the server serves them from the default layout; migrating back
// to OpenShift's keys gives the original bytes; a differing destination value fails the run
// until --overwrite replaces it.
func TestMigrateStorage(t *testing.T) {
	const streams, images = 1000, 10000
	ctx := testContext(t)
	openshift, target := framework.StartEtcd(t), framework.StartEtcdTLS(t)
	src, err := openshift.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := target.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	start := time.Now()
	size := fillOpenShift(t, ctx, src, streams)
	t.Logf("wrote %d images and %d streams (%.1f MiB of values) into etcd in %v", images, streams, float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))

	imagesRoot := func(l layout.Layout) string { return l.Root(l.DefaultPrefix(), imagev1.Resource("images")) }
	streamsRoot := func(l layout.Layout) string { return l.Root(l.DefaultPrefix(), imagev1.Resource("imagestreams")) }
	from := []string{"--from-layout=openshift", "--from-etcd-servers=" + openshift.URL}
	to := []string{"--to-layout=default", "--to-etcd-servers=" + target.URL,
		"--to-etcd-cafile=" + target.TLS.CAFile, "--to-etcd-certfile=" + target.TLS.CertFile, "--to-etcd-keyfile=" + target.TLS.KeyFile}
	args := func(extra ...string) []string { return append(append(append([]string{}, from...), to...), extra...) }

	t.Run("dry run", func(t *testing.T) {
		out, code := migrateStorage(t, args("--dry-run")...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		got := outcomes(t, out)
		if got["images"] != [8]int{images, images, 0, 0, 0, 0, images, 0} || got["imagestreams"] != [8]int{streams, streams, 0, 0, 0, 0, streams, 0} {
			t.Errorf("dry run counted %v:\n%s", got, out)
		}
		if n := countUnder(t, ctx, dst, "/"); n != 0 {
			t.Errorf("the dry run wrote %d keys", n)
		}
	})

	t.Run("interrupted, then resumed", func(t *testing.T) {
		bin, err := framework.ServerBinary()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, bin, append([]string{"migrate-storage"}, args("--page-size=100")...)...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		lastKey := ""
		for lines.Scan() {
			if _, key, ok := strings.Cut(lines.Text(), "; last key "); ok {
				lastKey = key
				// Interrupted as abruptly as it can be, once its first page is written.
				_ = cmd.Process.Kill()
				break
			}
		}
		_ = cmd.Wait()
		if lastKey == "" {
			t.Fatal("no progress line before the end")
		}
		copied := countUnder(t, ctx, dst, imagesRoot(layout.Default))
		if copied < 100 || copied >= images {
			t.Fatalf("the killed run left %d images in the destination, want at least its first page of 100 and not all", copied)
		}
		// Everything up to the reported key is in the destination.
		done := countUnder(t, ctx, src, imagesRoot(layout.OpenShift)) - int(mustCount(t, ctx, src, lastKey+"\x00", clientv3.GetPrefixRangeEnd(imagesRoot(layout.OpenShift))))
		start := time.Now()
		out, code := migrateStorage(t, args("--resume-after="+lastKey)...)
		elapsed := time.Since(start)
		if code != 0 {
			t.Fatalf("resumed run: exit %d:\n%s", code, out)
		}
		got := outcomes(t, out)
		if got["images"][0] != images-done || got["images"][6] != images || got["images"][7] != images {
			t.Errorf("resumed after key %d of %d: %v, want the rest read and both sides counting %d:\n%s", done, images, got["images"], images, out)
		}
		if got["imagestreams"][1] != streams || got["imagestreams"][7] != streams {
			t.Errorf("resumed run, streams: %v:\n%s", got["imagestreams"], out)
		}
		t.Logf("resumed run: %d images and %d streams read in %v", got["images"][0], got["imagestreams"][0], elapsed.Round(time.Millisecond))
	})

	t.Run("second run copies nothing", func(t *testing.T) {
		start := time.Now()
		out, code := migrateStorage(t, args()...)
		elapsed := time.Since(start)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		got := outcomes(t, out)
		if got["images"] != [8]int{images, 0, images, 0, 0, 0, images, images} || got["imagestreams"] != [8]int{streams, 0, streams, 0, 0, 0, streams, streams} {
			t.Errorf("second run: %v:\n%s", got, out)
		}
		t.Logf("second run (all identical): %d keys compared in %v", images+streams, elapsed.Round(time.Millisecond))
		sameValues(t, ctx, src, imagesRoot(layout.OpenShift), dst, imagesRoot(layout.Default))
		sameValues(t, ctx, src, streamsRoot(layout.OpenShift), dst, streamsRoot(layout.Default))
	})

	t.Run("the server serves the migrated objects", func(t *testing.T) {
		s := framework.StartServer(t, framework.Options{ExtraArgs: target.ServerArgs()})
		c := s.ImageClient(framework.ContentTypes[1])
		list, err := c.ImageV1().Images().List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.RemainingItemCount == nil || *list.RemainingItemCount != images-1 {
			t.Errorf("LIST of 1 image: %d items, %v remaining; want 1 and %d", len(list.Items), list.RemainingItemCount, images-1)
		}
		want := layouttest.Image(10*537+3, "ns-17", "app-537")
		img, err := c.ImageV1().Images().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil || img.DockerImageReference != want.DockerImageReference {
			t.Errorf("GET a migrated image: %v, %+v", err, img)
		}
		if h := history(t, c, "ns-17", "app-537", "latest"); len(h) != 10 || h[6] != want.Name {
			t.Errorf("history of a migrated stream: %v", h)
		}
	})

	t.Run("back to OpenShift's keys", func(t *testing.T) {
		// Within the TLS etcd: the destination defaults to the source's cluster and TLS files.
		start := time.Now()
		out, code := migrateStorage(t, "--from-layout=default", "--from-etcd-servers="+target.URL,
			"--from-etcd-cafile="+target.TLS.CAFile, "--from-etcd-certfile="+target.TLS.CertFile, "--from-etcd-keyfile="+target.TLS.KeyFile,
			"--to-layout=openshift")
		elapsed := time.Since(start)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		got := outcomes(t, out)
		if got["images"][1] != images || got["imagestreams"][1] != streams {
			t.Errorf("migration back: %v:\n%s", got, out)
		}
		t.Logf("full migration of %d images and %d streams: %v, %.0f keys/s, %.1f MiB/s", images, streams, elapsed.Round(time.Millisecond),
			float64(images+streams)/elapsed.Seconds(), float64(size)/(1<<20)/elapsed.Seconds())
		sameValues(t, ctx, src, imagesRoot(layout.OpenShift), dst, imagesRoot(layout.OpenShift))
		sameValues(t, ctx, src, streamsRoot(layout.OpenShift), dst, streamsRoot(layout.OpenShift))
	})

	t.Run("a differing destination value", func(t *testing.T) {
		changed := layouttest.ImageStream("ns-3", "app-3", 3)
		changed.Annotations["edited"] = "after the first migration"
		putOpenShift(t, ctx, dst, changed)
		back := []string{"--from-layout=default", "--from-etcd-servers=" + target.URL,
			"--from-etcd-cafile=" + target.TLS.CAFile, "--from-etcd-certfile=" + target.TLS.CertFile, "--from-etcd-keyfile=" + target.TLS.KeyFile,
			"--to-layout=openshift"}
		out, code := migrateStorage(t, back...)
		if code == 0 || !strings.Contains(out, "1 imagestreams.image.openshift.io differ in the destination") || !strings.Contains(out, "differing "+openShiftKey(changed)) {
			t.Errorf("exit %d, want a failure naming the differing stream:\n%s", code, out)
		}
		out, code = migrateStorage(t, append(back, "--overwrite")...)
		if got := outcomes(t, out); code != 0 || got["imagestreams"][4] != 1 {
			t.Errorf("--overwrite: exit %d, %v:\n%s", code, got["imagestreams"], out)
		}
		sameValues(t, ctx, src, streamsRoot(layout.OpenShift), dst, streamsRoot(layout.OpenShift))
	})

	t.Run("the same keys in the same etcd are refused", func(t *testing.T) {
		out, code := migrateStorage(t, "--from-layout=openshift", "--from-etcd-servers="+openshift.URL, "--to-layout=openshift")
		if code == 0 || !strings.Contains(out, "overlap") {
			t.Errorf("exit %d, want a refusal:\n%s", code, out)
		}
	})
}

// mustCount counts the keys in [key, end).
func mustCount(t *testing.T, ctx context.Context, cli *clientv3.Client, key, end string) int64 {
	t.Helper()
	resp, err := cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}
