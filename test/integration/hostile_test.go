package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// hostileBodyTimeout is the server's --request-body-timeout in TestHostile: short, so that
// the slow-body cases end quickly.
const hostileBodyTimeout = 3 * time.Second

// hostileDeadline is how long any hostile request may take to be answered at all. It only
// proves that nothing hangs; the actual times are measured and logged, not asserted.
const hostileDeadline = 30 * time.Second

const (
	hostileNS           = "hostile"
	hostileStreams      = "/apis/image.openshift.io/v1/namespaces/" + hostileNS + "/imagestreams"
	hostileMappings     = "/apis/image.openshift.io/v1/namespaces/" + hostileNS + "/imagestreammappings"
	hostileImages       = "/apis/image.openshift.io/v1/images"
	hostileProtobufType = "application/vnd.kubernetes.protobuf"
	hostileMaxBodyBytes = 3 << 20 // the generic apiserver's request body limit
)

// hostileCase is one malformed or abusive request.
type hostileCase struct {
	name string
	// group is "slow" for the cases run alongside all others, "huge" for the 100 MiB bodies
	// (run first, to measure memory), "" otherwise.
	group string
	// http1 sends the request over HTTP/1.1 instead of HTTP/2.
	http1       bool
	method      string
	path        string
	contentType string
	// body returns the request body and its length (-1: unknown, sent chunked or without a
	// content-length).
	body func() (io.Reader, int64)
	// want is the status code the server must answer; alsoOK lists others that are correct
	// too (see the case).
	want   int
	alsoOK []int
	// mention is a fragment the Status reply must contain ("" for none).
	mention string
	// absent lists the paths that must still be 404 afterwards: nothing was written.
	absent []string
}

// TestHostile sends malformed, oversized and slow requests to a running server. Each must be
// answered (within hostileDeadline; the actual time is logged) with a Status, must write
// nothing invalid, must not stop other requests, and the server's memory must stay bounded.
// The lines starting "hostile:" are the measurements: time to answer each case, the latency
// of a stream of ordinary GETs before and during the cases, and the server's memory.
func TestHostile(t *testing.T) {
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--request-body-timeout=" + hostileBodyTimeout.String()}})
	h2 := hostileHTTPClient(t, s, false)
	h1 := hostileHTTPClient(t, s, true)

	// A stream for the mappings and the probe requests.
	code, body, _ := rawRequest(t, s, http.MethodPost, hostileStreams, "application/json",
		[]byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"app"}}`))
	if code != http.StatusCreated {
		t.Fatalf("creating the stream: %d %s", code, body)
	}

	mem := startHostileMemorySampler(t, s.Pid())
	probe := startHostileLatencyProbe(t, s)
	// The first requests of a connection are slower (TLS, caches); they are not the baseline.
	probe.waitSamples(20)
	probe.setPhase("before")
	probe.waitSamples(200)
	memBefore := mem.current()
	probe.setPhase("during")
	mem.setPhase("during")

	cases := hostileCases(t)
	var slow, huge, others []hostileCase
	for _, c := range cases {
		switch c.group {
		case "slow":
			slow = append(slow, c)
		case "huge":
			huge = append(huge, c)
		default:
			others = append(others, c)
		}
	}
	// The slow bodies run alongside all the others: a client trickling a body must neither
	// hang nor hold up anyone else.
	var wg sync.WaitGroup
	for _, c := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runHostileCase(t, s, h1, h2, c)
		}()
	}
	for _, c := range huge {
		runHostileCase(t, s, h1, h2, c)
	}
	// A 100 MiB body must be refused at the 3 MiB limit, never held: reading and refusing a
	// few 3 MiB bodies grows the peak by a few times 3 MiB, holding one would add 100 MiB.
	afterHuge := mem.current()
	t.Logf("hostile: server memory after the 100 MiB bodies VmRSS=%s VmHWM=%s", hostileMiB(afterHuge.rss), hostileMiB(afterHuge.hwm))
	if grown := afterHuge.hwm - memBefore.hwm; grown > 64<<20 {
		t.Errorf("the server's peak memory grew by %s with the 100 MiB bodies: a body is held beyond the size limit", hostileMiB(grown))
	}
	for _, c := range others {
		runHostileCase(t, s, h1, h2, c)
	}
	wg.Wait()

	probe.setPhase("after")
	mem.setPhase("after")
	probe.waitSamples(probe.count("after") + 50)
	probe.stop()
	mem.stop()

	// Nothing rejected was written; what was valid was written whole.
	for _, c := range cases {
		for _, path := range c.absent {
			if code, body, _ := rawRequest(t, s, http.MethodGet, path, "", nil); code != http.StatusNotFound {
				t.Errorf("%s: GET %s after the rejected request: %d %s, want 404", c.name, path, code, body)
			}
		}
	}
	client := s.ImageClient("application/json")
	streams, err := client.ImageV1().ImageStreams(hostileNS).List(testContext(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, is := range streams.Items {
		names = append(names, is.Name)
	}
	if fmt.Sprint(names) != "[app]" {
		t.Errorf("streams after the hostile requests: %v, want only [app]", names)
	}
	images, err := client.ImageV1().Images().List(testContext(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, img := range images.Items {
		names = append(names, img.Name)
		if img.Name == digestOf(10000) || img.Name == digestOf(10001) {
			if len(img.DockerImageLayers) != 10000 {
				t.Errorf("image %s has %d layers, want 10000", img.Name, len(img.DockerImageLayers))
			}
		}
	}
	slices.Sort(names)
	if want := []string{digestOf(10000), digestOf(10001)}; !slices.Equal(names, want) {
		t.Errorf("images after the hostile requests: %v, want %v (the two with 10 000 layers)", names, want)
	}
	app, err := client.ImageV1().ImageStreams(hostileNS).Get(testContext(t), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, tag := range app.Status.Tags {
		for _, event := range tag.Items {
			tags = append(tags, tag.Tag+"="+event.Image)
		}
	}
	if want := []string{"layers=" + digestOf(10001)}; !slices.Equal(tags, want) {
		t.Errorf("stream app has tags %v, want only %v", tags, want)
	}

	// Measurements.
	for _, phase := range []string{"before", "during", "after"} {
		n, p50, p99, failed := probe.stats(phase)
		t.Logf("hostile: concurrent GET latency %-6s n=%d p50=%s p99=%s failed=%d", phase, n, p50, p99, failed)
		if failed != 0 {
			t.Errorf("%d ordinary GETs failed %s the hostile requests", failed, phase)
		}
	}
	peak := mem.peak()
	memAfter := mem.current()
	t.Logf("hostile: server memory before VmRSS=%s VmHWM=%s", hostileMiB(memBefore.rss), hostileMiB(memBefore.hwm))
	t.Logf("hostile: server memory during peak VmRSS=%s VmHWM=%s", hostileMiB(peak.rss), hostileMiB(peak.hwm))
	t.Logf("hostile: server memory after VmRSS=%s VmHWM=%s", hostileMiB(memAfter.rss), hostileMiB(memAfter.hwm))
}

func runHostileCase(t *testing.T, s *framework.Server, h1, h2 *http.Client, c hostileCase) {
	client := h2
	if c.http1 {
		client = h1
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostileDeadline)
	defer cancel()
	body, length := c.body()
	req, err := http.NewRequestWithContext(ctx, c.method, s.URL+c.path, body)
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: no answer after %s: %v", c.name, time.Since(start).Round(time.Millisecond), err)
		t.Logf("hostile: %-58s no answer after %s", c.name, time.Since(start).Round(time.Millisecond))
		return
	}
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	proto := resp.Proto
	if want := map[bool]int{true: 1, false: 2}[c.http1]; resp.ProtoMajor != want {
		t.Errorf("%s: answered over %s, want HTTP/%d", c.name, proto, want)
	}
	var status metav1.Status
	_ = json.Unmarshal(reply, &status)
	message := status.Message
	if r := []rune(message); len(r) > 100 {
		message = string(r[:100]) + "..."
	}
	t.Logf("hostile: %-58s %-8s %d in %-8s %s", c.name, proto, resp.StatusCode, elapsed.Round(time.Millisecond), message)
	if err != nil {
		t.Errorf("%s: reading the reply: %v", c.name, err)
		return
	}
	if resp.StatusCode != c.want && !slices.Contains(c.alsoOK, resp.StatusCode) {
		t.Errorf("%s: got %d %.400s, want %d", c.name, resp.StatusCode, reply, c.want)
		return
	}
	if resp.StatusCode >= 400 && (status.Kind != "Status" || int(status.Code) != resp.StatusCode) {
		t.Errorf("%s: reply is not a Status with code %d: %.400s", c.name, resp.StatusCode, reply)
	}
	if c.mention != "" && resp.StatusCode == c.want && !strings.Contains(string(reply), c.mention) {
		t.Errorf("%s: reply does not mention %q: %.400s", c.name, c.mention, reply)
	}
}

func hostileCases(t *testing.T) []hostileCase {
	streamJSON := func(name, annotation string) string {
		return `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"` + name +
			`","annotations":{"a":"` + annotation + `"}}}`
	}
	bytesBody := func(b []byte) func() (io.Reader, int64) {
		return func() (io.Reader, int64) { return bytes.NewReader(b), int64(len(b)) }
	}
	stringBody := func(s string) func() (io.Reader, int64) { return bytesBody([]byte(s)) }
	stream := func(name string) string { return hostileStreams + "/" + name }
	image := func(n int) string { return hostileImages + "/" + digestOf(n) }

	// An annotation that makes the whole body exactly the size limit.
	exactPrefix := streamJSON("exact", "")
	exact := streamJSON("exact", strings.Repeat("x", hostileMaxBodyBytes-len(exactPrefix)))
	over := streamJSON("over", strings.Repeat("x", hostileMaxBodyBytes+1-len(streamJSON("over", ""))))

	// 100 MiB bodies are generated while they are sent, never held.
	huge := func(name string, length int64) func() (io.Reader, int64) {
		return func() (io.Reader, int64) {
			prefix := `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"` + name + `","annotations":{"a":"`
			r := io.MultiReader(strings.NewReader(prefix), io.LimitReader(hostileRepeatByte('x'), 100<<20-int64(len(prefix))))
			return r, length
		}
	}

	deep := func(name string, depth int) string {
		return `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"` + name +
			`"},"spec":{"deep":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`
	}
	deepObject := func(name string, depth int) string {
		return `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"` + name +
			`"},"spec":{"deep":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `}}`
	}

	layered := func(n int) *imagev1.Image { return hostileLayeredImage(n, 10000) }
	mapping := func(img *imagev1.Image, tag string) *imagev1.ImageStreamMapping {
		return &imagev1.ImageStreamMapping{
			TypeMeta:   metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStreamMapping"},
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: hostileNS},
			Image:      *img, Tag: tag,
		}
	}
	withKind := hostileWithKind
	annotated := func(n int, value string) *imagev1.Image {
		img := newImage(digestOf(n))
		img.DockerImageReference = "registry.test:5000/" + hostileNS + "/app@" + digestOf(n)
		img.Annotations = map[string]string{"a": value}
		return img
	}
	megabyte := strings.Repeat("x", 1<<20)
	invalidUTF8 := string([]byte{'b', 'a', 'd', 0xff, 0xfe, '!'})

	validMapping := hostileEncodeProtobuf(t, mapping(newImage(digestOf(20000)), "cut"))
	invalidUTF8Stream := &imagev1.ImageStream{
		TypeMeta:   metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStream"},
		ObjectMeta: metav1.ObjectMeta{Name: "badutf8pb", Annotations: map[string]string{"a": invalidUTF8}},
	}

	var cases []hostileCase
	cases = append(cases,
		// A stream this large is refused by the stream size guard (413, --max-imagestream-bytes)
		// before validation would refuse its annotations (422): both are right, 422 would name
		// the actual problem.
		hostileCase{
			name: "body of exactly 3 MiB (annotation too large)", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(exact), want: 422, alsoOK: []int{413},
			mention: "metadata.annotations", absent: []string{stream("exact")},
		},
		// The generic apiserver reads at most 3 MiB + 1 byte of a body and answers 413: a 100 MiB
		// body is cut there, whatever its framing.
		hostileCase{
			name: "body of 3 MiB + 1 byte", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(over), want: 413, absent: []string{stream("over")},
		},
		hostileCase{
			name: "body of 100 MiB with a content-length", group: "huge", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: huge("huge", 100<<20), want: 413, absent: []string{stream("huge")},
		},
		hostileCase{
			name: "body of 100 MiB with a content-length", group: "huge", http1: true, method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: huge("huge1", 100<<20), want: 413, absent: []string{stream("huge1")},
		},
		hostileCase{
			name: "body of 100 MiB, chunked", group: "huge", http1: true, method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: huge("chunked", -1), want: 413, absent: []string{stream("chunked")},
		},
		hostileCase{
			name: "body of 100 MiB to a mapping", group: "huge", method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", body: huge("app", 100<<20), want: 413,
		},
		// Go's JSON scanner refuses nesting deeper than 10 000 levels before building anything:
		// 400, with or without the unknown field being dropped otherwise.
		hostileCase{
			name: "JSON arrays nested 10 000 deep", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(deep("deep", 10000)), want: 400, mention: "depth",
			absent: []string{stream("deep")},
		},
		hostileCase{
			name: "JSON objects nested 10 000 deep", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(deepObject("deepobj", 10000)), want: 400, mention: "depth",
			absent: []string{stream("deepobj")},
		},
		hostileCase{
			name: "JSON nested 10 000 deep in a mapping", method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", want: 400, mention: "depth",
			body: stringBody(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamMapping","metadata":{"name":"app"},"tag":"deep","image":{"metadata":{"name":"` +
				digestOf(20001) + `"},"dockerImageReference":"registry.test:5000/hostile/app@` + digestOf(20001) + `","deep":` +
				strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`),
			absent: []string{image(20001)},
		},
		// The API sets no limit on layers, and 10 000 of them are stored in about 1.1 MB, under
		// etcd's request limit: valid, 201, stored whole (checked below).
		hostileCase{
			name: "image with 10 000 layers (valid)", method: http.MethodPost, path: hostileImages,
			contentType: "application/json", body: bytesBody(hostileJSON(t, withKind(layered(10000)))), want: 201,
		},
		hostileCase{
			name: "mapping of an image with 10 000 layers (valid)", method: http.MethodPost, path: hostileMappings,
			contentType: hostileProtobufType, body: bytesBody(hostileEncodeProtobuf(t, mapping(layered(10001), "layers"))), want: 201,
		},
		hostileCase{
			name: "1 MiB annotation on a stream", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(streamJSON("annotated", megabyte)), want: 422, alsoOK: []int{413},
			mention: "metadata.annotations", absent: []string{stream("annotated")},
		},
		hostileCase{
			name: "300 KiB annotation on a stream (over 256 KiB)", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(streamJSON("annotated300", strings.Repeat("x", 300<<10))), want: 422,
			mention: "metadata.annotations", absent: []string{stream("annotated300")},
		},
		// Over etcd's request limit a mapping is a 413 before anything is sent to etcd. (The
		// same image created directly: TestHostileImageOverEtcdLimit.)
		hostileCase{
			name: "mapping of an image over etcd's request limit", method: http.MethodPost, path: hostileMappings,
			contentType: hostileProtobufType, body: bytesBody(hostileEncodeProtobuf(t, mapping(hostileLayeredImage(20012, 16000), "huge"))), want: 413,
			absent: []string{image(20012)},
		},
		// YAML is converted to JSON first, so the JSON depth limit applies; aliases that would
		// expand to 10^9 nodes are refused by the YAML parser.
		hostileCase{
			name: "YAML nested 10 000 deep", method: http.MethodPost, path: hostileStreams,
			contentType: "application/yaml", want: 400, absent: []string{stream("deepyaml")},
			body: stringBody("apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: deepyaml\nspec:\n  deep: " +
				strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"),
		},
		hostileCase{
			name: "YAML alias bomb", method: http.MethodPost, path: hostileStreams,
			contentType: "application/yaml", want: 400, absent: []string{stream("bomb")},
			body: stringBody(hostileYAMLAliasBomb("bomb")),
		},
		// Annotations may total 256 KiB: 422 naming the field.
		hostileCase{
			name: "1 MiB annotation on an image", method: http.MethodPost, path: hostileImages,
			contentType: "application/json", body: bytesBody(hostileJSON(t, withKind(annotated(20002, megabyte)))), want: 422,
			mention: "metadata.annotations", absent: []string{image(20002)},
		},
		hostileCase{
			name: "1 MiB annotation on the image of a mapping", method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", body: bytesBody(hostileJSON(t, mapping(annotated(20003, megabyte), "annotated"))), want: 422,
			mention: "metadata.annotations", absent: []string{image(20003)},
		},
		// JSON and YAML must be UTF-8; Go's JSON decoder would silently store U+FFFD instead, so
		// the server refuses the body: 400. Protobuf strings are copied as sent; the server
		// refuses an object with a non-UTF-8 string: 422 naming the field.
		hostileCase{
			name: "invalid UTF-8 in JSON", method: http.MethodPost, path: hostileStreams,
			contentType: "application/json", body: stringBody(streamJSON("badutf8", invalidUTF8)), want: 400,
			mention: "UTF-8", absent: []string{stream("badutf8")},
		},
		hostileCase{
			name: "invalid UTF-8 in a JSON mapping", method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", want: 400, mention: "UTF-8",
			body:   bytesBody(hostileJSONRaw(t, mapping(annotated(20004, "placeholder"), "utf8"), "placeholder", invalidUTF8)),
			absent: []string{image(20004)},
		},
		hostileCase{
			name: "invalid UTF-8 in a protobuf stream", method: http.MethodPost, path: hostileStreams,
			contentType: hostileProtobufType, body: bytesBody(hostileEncodeProtobuf(t, invalidUTF8Stream)), want: 422,
			mention: "metadata.annotations", absent: []string{stream("badutf8pb")},
		},
		hostileCase{
			name: "invalid UTF-8 in a protobuf mapping", method: http.MethodPost, path: hostileMappings,
			contentType: hostileProtobufType, body: bytesBody(hostileEncodeProtobuf(t, mapping(annotated(20005, invalidUTF8), "utf8"))), want: 422,
			mention: "image.metadata.annotations", absent: []string{image(20005)},
		},
		hostileCase{
			name: "invalid UTF-8 in a protobuf image", method: http.MethodPost, path: hostileImages,
			contentType: hostileProtobufType, body: bytesBody(hostileEncodeProtobuf(t, withKind(annotated(20006, invalidUTF8)))), want: 422,
			mention: "metadata.annotations", absent: []string{image(20006)},
		},
		// An unsupported media type is 415; a body that is not what its media type says is 400.
		hostileCase{
			name: "wrong content type (text/plain)", method: http.MethodPost, path: hostileMappings,
			contentType: "text/plain", body: bytesBody(hostileJSON(t, mapping(newImage(digestOf(20007)), "ct"))), want: 415,
			absent: []string{image(20007)},
		},
		hostileCase{
			name: "protobuf body sent as JSON", method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", body: bytesBody(hostileEncodeProtobuf(t, mapping(newImage(digestOf(20008)), "ct"))), want: 400,
			absent: []string{image(20008)},
		},
		hostileCase{
			name: "JSON body sent as protobuf", method: http.MethodPost, path: hostileMappings,
			contentType: hostileProtobufType, body: bytesBody(hostileJSON(t, mapping(newImage(digestOf(20009)), "ct"))), want: 400,
			absent: []string{image(20009)},
		},
	)
	// A truncated protobuf message does not decode: 400.
	for _, cut := range []int{len(validMapping) - 1, len(validMapping) / 2, 10, 4} {
		cases = append(cases, hostileCase{
			name:   fmt.Sprintf("protobuf mapping cut to %d of %d bytes", cut, len(validMapping)),
			method: http.MethodPost, path: hostileMappings, contentType: hostileProtobufType,
			body: bytesBody(validMapping[:cut]), want: 400, absent: []string{image(20000)},
		})
	}
	// A body still arriving after --request-body-timeout is refused: 408, on both protocols.
	slowBody := hostileJSON(t, mapping(newImage(digestOf(20010)), "slow"))
	for _, http1 := range []bool{false, true} {
		cases = append(cases, hostileCase{
			name: "slow body (1 byte/s)", group: "slow", http1: http1, method: http.MethodPost, path: hostileMappings,
			contentType: "application/json", want: 408, mention: "body",
			body: func() (io.Reader, int64) {
				return &hostileSlowReader{data: slowBody, every: time.Second}, int64(len(slowBody))
			},
			absent: []string{image(20010)},
		})
	}
	return cases
}

// TestHostileImageOverEtcdLimit creates an image whose stored form is over etcd's request
// limit (1.5 MiB by default): etcd refuses it, and the client must get a 413 saying so, as a
// mapping of the same image gets, not a 500.
func TestHostileImageOverEtcdLimit(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	c := hostileCase{
		name: "image over etcd's 1.5 MiB request limit (16 000 layers)", method: http.MethodPost, path: hostileImages,
		contentType: hostileProtobufType, want: 413,
		body: func() (io.Reader, int64) {
			b := hostileEncodeProtobuf(t, hostileWithKind(hostileLayeredImage(20011, 16000)))
			return bytes.NewReader(b), int64(len(b))
		},
	}
	runHostileCase(t, s, hostileHTTPClient(t, s, true), hostileHTTPClient(t, s, false), c)
	if code, body, _ := rawRequest(t, s, http.MethodGet, hostileImages+"/"+digestOf(20011), "", nil); code != http.StatusNotFound {
		t.Errorf("GET the refused image: %d %.200s, want 404", code, body)
	}
}

// hostileLayeredImage is a valid image of the hostile namespace with the given number of
// layers.
func hostileLayeredImage(n, layers int) *imagev1.Image {
	img := newImage(digestOf(n))
	img.DockerImageReference = "registry.test:5000/" + hostileNS + "/app@" + digestOf(n)
	for i := range layers {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{
			Name: digestOf(1_000_000 + i), LayerSize: int64(i), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
		})
	}
	return img
}

func hostileWithKind(img *imagev1.Image) *imagev1.Image {
	img.TypeMeta = metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "Image"}
	return img
}

// hostileHTTPClient returns an admin client of s; http1 restricts it to HTTP/1.1.
func hostileHTTPClient(t *testing.T, s *framework.Server, http1 bool) *http.Client {
	t.Helper()
	cfg := s.RESTConfig()
	if http1 {
		cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// hostileEncodeProtobuf encodes obj as the protobuf client-go sends.
func hostileEncodeProtobuf(t *testing.T, obj runtime.Object) []byte {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), hostileProtobufType)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	data, err := runtime.Encode(codecs.EncoderForVersion(info.Serializer, imagev1.GroupVersion), obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hostileJSON(t *testing.T, obj any) []byte {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hostileJSONRaw encodes obj as JSON and then replaces placeholder with raw bytes, which may
// be invalid UTF-8 (encoding/json would replace those).
func hostileJSONRaw(t *testing.T, obj any, placeholder, raw string) []byte {
	t.Helper()
	return bytes.Replace(hostileJSON(t, obj), []byte(placeholder), []byte(raw), 1)
}

// hostileRepeatByte is an endless reader of one byte.
type hostileRepeatByte byte

func (r hostileRepeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// hostileSlowReader returns one byte per read, waiting every in between.
type hostileSlowReader struct {
	data  []byte
	every time.Duration
	sent  int
}

func (r *hostileSlowReader) Read(p []byte) (int, error) {
	if r.sent >= len(r.data) {
		return 0, io.EOF
	}
	if r.sent > 0 {
		time.Sleep(r.every)
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[r.sent]
	r.sent++
	return 1, nil
}

// hostileLatencyProbe GETs one stream over its own connection, one request after another, and
// records each latency with the phase it started in.
type hostileLatencyProbe struct {
	mu      sync.Mutex
	phase   string
	samples map[string][]time.Duration
	failed  map[string]int
	stopped atomic.Bool
	done    chan struct{}
	more    chan struct{}
}

func startHostileLatencyProbe(t *testing.T, s *framework.Server) *hostileLatencyProbe {
	client := hostileHTTPClient(t, s, false)
	p := &hostileLatencyProbe{phase: "warmup", samples: map[string][]time.Duration{}, failed: map[string]int{},
		done: make(chan struct{}), more: make(chan struct{}, 1)}
	go func() {
		defer close(p.done)
		for !p.stopped.Load() {
			p.mu.Lock()
			phase := p.phase
			p.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), hostileDeadline)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+hostileStreams+"/app", nil)
			req.Header.Set("Accept", "application/json")
			start := time.Now()
			resp, err := client.Do(req)
			ok := err == nil
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok = resp.StatusCode == http.StatusOK
			}
			elapsed := time.Since(start)
			cancel()
			p.mu.Lock()
			if ok {
				p.samples[phase] = append(p.samples[phase], elapsed)
			} else {
				p.failed[phase]++
			}
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
			// Pace the probe like a busy client rather than a flood: it measures, it does not
			// load the server.
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *hostileLatencyProbe) setPhase(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

func (p *hostileLatencyProbe) count(phase string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.samples[phase]) + p.failed[phase]
}

// waitSamples waits until the current phase has n samples.
func (p *hostileLatencyProbe) waitSamples(n int) {
	p.mu.Lock()
	phase := p.phase
	p.mu.Unlock()
	for p.count(phase) < n {
		select {
		case <-p.more:
		case <-p.done:
			return
		}
	}
}

func (p *hostileLatencyProbe) stop() {
	if p.stopped.CompareAndSwap(false, true) {
		<-p.done
	}
}

func (p *hostileLatencyProbe) stats(phase string) (n int, p50, p99 time.Duration, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := slices.Clone(p.samples[phase])
	slices.Sort(d)
	if len(d) == 0 {
		return 0, 0, 0, p.failed[phase]
	}
	at := func(q float64) time.Duration {
		return d[min(len(d)-1, int(q*float64(len(d))))].Round(10 * time.Microsecond)
	}
	return len(d), at(0.50), at(0.99), p.failed[phase]
}

// hostileMemorySample is the server's resident memory (VmRSS) and its peak so far (VmHWM).
type hostileMemorySample struct{ rss, hwm int64 }

// hostileMemorySampler reads /proc/<pid>/status every 20 ms and keeps the highest values.
type hostileMemorySampler struct {
	t       *testing.T
	pid     int
	mu      sync.Mutex
	max     hostileMemorySample
	stopped chan struct{}
	done    chan struct{}
}

func startHostileMemorySampler(t *testing.T, pid int) *hostileMemorySampler {
	m := &hostileMemorySampler{t: t, pid: pid, stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			s, err := hostileReadMemory(pid)
			if err == nil {
				m.mu.Lock()
				m.max.rss, m.max.hwm = max(m.max.rss, s.rss), max(m.max.hwm, s.hwm)
				m.mu.Unlock()
			}
			select {
			case <-m.stopped:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// setPhase starts a new peak.
func (m *hostileMemorySampler) setPhase(string) {
	m.mu.Lock()
	m.max = hostileMemorySample{}
	m.mu.Unlock()
}

func (m *hostileMemorySampler) peak() hostileMemorySample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max
}

func (m *hostileMemorySampler) current() hostileMemorySample {
	s, err := hostileReadMemory(m.pid)
	if err != nil {
		m.t.Fatalf("reading the server's memory: %v", err)
	}
	return s
}

func (m *hostileMemorySampler) stop() {
	select {
	case <-m.stopped:
	default:
		close(m.stopped)
		<-m.done
	}
}

// hostileReadMemory reads VmRSS and VmHWM of pid.
func hostileReadMemory(pid int) (hostileMemorySample, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return hostileMemorySample{}, err
	}
	defer f.Close()
	var s hostileMemorySample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return hostileMemorySample{}, fmt.Errorf("%s: %q: %w", key, value, err)
		}
		if key == "VmRSS" {
			s.rss = kb << 10
		} else {
			s.hwm = kb << 10
		}
	}
	if s.rss == 0 {
		return s, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
	}
	return s, sc.Err()
}

func hostileMiB(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// hostileYAMLAliasBomb is a stream whose spec expands, alias by alias, to 10^9 strings ("billion
// laughs") while the document stays a few hundred bytes.
func hostileYAMLAliasBomb(name string) string {
	var b strings.Builder
	b.WriteString("apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: " + name + "\nspec:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}
