// Package faults is the fault suite of the ImageStreamMapping write path: real server and
// etcd processes under a registry-shaped load, a fault injected during the load (processes
// killed, frozen, clients giving up), and then the invariants a registry relies on, checked
// against what etcd holds once the servers have stopped (and what a fresh server's API shows,
// which must be the same) and against every raw answer the clients got.
//
// `go test ./test/faults/` runs the short form; FAULTS=full runs every scenario at
// concurrency 16 and 64 (`make faults`). FAULTS_REPORT=<file> writes the markdown table there.
package faults

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

const (
	// warmup is how many mappings must succeed before the fault is injected, so that it
	// strikes a load in full flow, with commits in flight.
	warmup = 200
	// afterFault is how many mappings must succeed after the fault's end before the load stops.
	afterFault = 300
	// recoveryBound is I5: /readyz answers 200 within it of the fault's end.
	recoveryBound = 10 * time.Second
	// afterFaultTimeout bounds the wait for afterFault successes; not reaching them is an I5
	// violation.
	afterFaultTimeout = 60 * time.Second
	// etcdDowntime is how long a killed etcd stays down (scenario 2).
	etcdDowntime = 3 * time.Second
	// cancelsDuringFault is how many requests carry a cancel point in scenario 6.
	cancelsDuringFault = 400
)

// scenario is one fault. inject runs while the load runs: it waits for conditions of the load,
// injects the fault, restores, and measures each recovery.
type scenario struct {
	id      int
	name    string
	inShort bool
	servers int
	cluster bool
	// shortDeadlines sends part of the load with ?timeout=1s for the whole row.
	shortDeadlines bool
	inject         func(t *testing.T, g *rig, l *load) []recovery
}

var scenarios = []scenario{
	{id: 1, name: "server SIGKILL, restarted", inShort: true, servers: 1, inject: killServer(0)},
	{id: 2, name: "etcd SIGKILL, restarted after 3 s", inShort: true, servers: 1, inject: killEtcd},
	{id: 3, name: "etcd SIGSTOP 10 s, SIGCONT", servers: 1, inject: freezeEtcd(10 * time.Second)},
	{id: 4, name: "3-member etcd: leader, then a follower SIGKILL, restarted", servers: 1, cluster: true, inject: killLeaderThenFollower},
	{id: 5, name: "2 replicas, one SIGKILL, restarted", servers: 2, inject: killServer(0)},
	{id: 6, name: "clients cancel mid-request", servers: 1, inject: cancelRequests},
	{id: 7, name: "timeout=1s and default deadlines, etcd SIGSTOP 3 s", inShort: true, servers: 1, shortDeadlines: true, inject: freezeEtcd(3 * time.Second)},
}

// TestFaults runs the scenarios and prints the table of their rows.
func TestFaults(t *testing.T) {
	full := os.Getenv("FAULTS") == "full"
	concurrencies := []int{16}
	if full {
		concurrencies = []int{16, 64}
	}
	started := time.Now()
	var rows []*row
	for _, sc := range scenarios {
		if !full && !sc.inShort {
			continue
		}
		for _, c := range concurrencies {
			t.Run(fmt.Sprintf("%d-%s/c%d", sc.id, slug(sc.name), c), func(t *testing.T) {
				r := &row{scenario: sc, c: c}
				rows = append(rows, r)
				runRow(t, sc, c, r)
			})
		}
	}
	if len(rows) == 0 {
		return
	}
	form := "short form"
	if full {
		form = "full form (FAULTS=full)"
	}
	table := renderTable(rows, fmt.Sprintf("%s, %s", form, time.Since(started).Round(time.Second)))
	fmt.Print(table)
	if out := os.Getenv("FAULTS_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Errorf("writing %s: %v", out, err)
		}
	}
}

// runRow runs one scenario at concurrency c and fills r; it fails t for every violated invariant.
func runRow(t *testing.T, sc scenario, c int, r *row) {
	started := time.Now()
	defer func() { r.duration = time.Since(started) }()
	g := newRig(t, sc)
	l := &load{row: fmt.Sprintf("%d/c%d", sc.id, c), ns: "faults", workers: c}
	for i := range g.servers {
		l.clients = append(l.clients, g.client(i))
	}
	admin := g.servers[0].ImageClient("application/json")
	for _, name := range l.streams() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := admin.ImageV1().ImageStreams(l.ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		cancel()
		if err != nil {
			t.Fatalf("creating stream %s: %v", name, err)
		}
	}
	l.short.Store(sc.shortDeadlines)
	l.start()
	stopped := false
	defer func() {
		if !stopped {
			l.stop()
		}
	}()
	if _, ok := l.waitCreated(time.Time{}, -1, warmup, afterFaultTimeout); !ok {
		t.Fatalf("fewer than %d mappings succeeded before the fault", warmup)
	}
	t.Logf("%d mappings succeeded; injecting the fault with %d requests in flight", warmup, l.inFlight.Load())
	r.recoveries = sc.inject(t, g, l)
	l.stop()
	stopped = true

	// Stop the servers (SIGTERM, as a rollout would), so that nothing is still committing
	// when etcd is read: a transaction may outlive the answer to its request.
	for i, s := range g.servers {
		if err := s.Stop(); err != nil {
			t.Logf("server %d did not stop cleanly: %v", i, err)
		}
	}
	cli, err := g.etcdClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st, err := readStored(cli, l.ns)
	if err != nil {
		t.Fatal(err)
	}
	// The registry's view: the API of a server started afresh on the same etcd must show
	// exactly what etcd holds.
	g.servers[0].Start()
	served, err := readServed(g.servers[0].ImageClient("application/json"), l.ns)
	if err != nil {
		t.Fatal(err)
	}
	if diff := differences(st, served, maxExamples); len(diff) > 0 {
		t.Errorf("the API and etcd disagree after the load:\n  %s", strings.Join(diff, "\n  "))
	}
	requests := l.snapshot()
	r.count(requests)
	r.unknownStored = checkStored(requests, st, &r.findings)
	for _, rc := range r.recoveries {
		rc.check(&r.findings)
	}
	r.done = true
	if samples := transportErrorSamples(requests, 3); len(samples) > 0 {
		t.Logf("transport errors, e.g.\n  %s", strings.Join(samples, "\n  "))
	}
	for i, name := range invariants {
		if n := r.findings.count[i]; n > 0 {
			t.Errorf("%s: %d violations, e.g.\n  %s", name, n, strings.Join(r.findings.examples[i], "\n  "))
		}
	}
}

// rig is a row's processes: etcd (one, or a cluster) and the servers on it.
type rig struct {
	etcd    *framework.Etcd
	cluster *framework.EtcdCluster
	servers []*framework.Server
}

func newRig(t *testing.T, sc scenario) *rig {
	g := &rig{}
	var urls string
	if sc.cluster {
		g.cluster = framework.StartEtcdCluster(t, 3)
		urls = g.cluster.URLs()
	} else {
		g.etcd = framework.StartEtcd(t)
		urls = g.etcd.URL
	}
	for i := 0; i < sc.servers; i++ {
		g.servers = append(g.servers, framework.StartServer(t, framework.Options{EtcdServers: urls}))
	}
	return g
}

func (g *rig) etcdClient() (*clientv3.Client, error) {
	if g.cluster != nil {
		return g.cluster.Client()
	}
	return g.etcd.Client()
}

// client is the registry's client for server i: the openshift JSON clientset with client-go's
// default retries, every raw answer recorded below them.
func (g *rig) client(i int) imageclient.Interface {
	cfg := g.servers[i].RESTConfig()
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	// No client-side rate limit: the load's concurrency is the only limit.
	cfg.QPS = -1
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &recordingTransport{next: rt} })
	c, err := imageclient.NewForConfig(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// recovery is how long the service took to come back after one fault ended.
type recovery struct {
	fault string
	// readyz is the time from the fault's end to /readyz 200 on every server it polls
	// (negative: not within readyzTimeout).
	readyz time.Duration
	// first201 is the time from the fault's end to the first 201 after it (negative: none).
	first201 time.Duration
	// resumed is whether afterFault mappings succeeded after the fault within afterFaultTimeout.
	resumed bool
}

// readyzTimeout bounds the /readyz polling; I5 asks for recoveryBound.
const readyzTimeout = 30 * time.Second

func (rc recovery) check(f *findings) {
	switch {
	case rc.readyz < 0:
		f.add(4, "%s: /readyz not 200 within %s", rc.fault, readyzTimeout)
	case rc.readyz > recoveryBound:
		f.add(4, "%s: /readyz 200 only after %s", rc.fault, rc.readyz.Round(time.Millisecond))
	}
	if rc.first201 < 0 || !rc.resumed {
		f.add(4, "%s: fewer than %d mappings succeeded within %s (first 201 after %s)", rc.fault, afterFault, afterFaultTimeout, seconds(rc.first201))
	}
}

// probe measures a recovery: started when the fault ends, it polls /readyz of the given
// servers while the scenario restores them.
type probe struct {
	fault   string
	end     time.Time
	server  int // the server whose 201s count; -1 for any
	readyz  chan time.Duration
	servers []*framework.Server
}

func startProbe(fault string, end time.Time, server int, servers []*framework.Server) *probe {
	p := &probe{fault: fault, end: end, server: server, readyz: make(chan time.Duration, 1), servers: servers}
	go func() {
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true,
		}}
		ready := func() bool {
			for _, s := range servers {
				resp, err := client.Get(s.URL + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return false
				}
			}
			return true
		}
		if waitForEvery(ready, 50*time.Millisecond, readyzTimeout) {
			p.readyz <- time.Since(end)
		} else {
			p.readyz <- -1
		}
	}()
	return p
}

// finish waits for /readyz and for afterFault successes after the fault.
func (p *probe) finish(l *load) recovery {
	rc := recovery{fault: p.fault, readyz: <-p.readyz, first201: -1}
	first, ok := l.waitCreated(p.end, p.server, afterFault, afterFaultTimeout)
	if !first.IsZero() {
		rc.first201 = first.Sub(p.end)
	}
	rc.resumed = ok
	return rc
}

// killServer kills server i with SIGKILL mid-load and starts it again on the same port and
// data directory; the recovery counts that server's 201s.
func killServer(i int) func(t *testing.T, g *rig, l *load) []recovery {
	return func(t *testing.T, g *rig, l *load) []recovery {
		s := g.servers[i]
		s.Kill()
		p := startProbe("server restarted", time.Now(), i, []*framework.Server{s})
		s.Start()
		return []recovery{p.finish(l)}
	}
}

// killEtcd kills etcd with SIGKILL, keeps it down for etcdDowntime and restarts it.
func killEtcd(t *testing.T, g *rig, l *load) []recovery {
	g.etcd.Kill()
	<-time.After(etcdDowntime)
	g.etcd.Start(t)
	return []recovery{startProbe("etcd restarted", time.Now(), -1, g.servers).finish(l)}
}

// freezeEtcd stops etcd with SIGSTOP while commits are in flight and continues it after d.
func freezeEtcd(d time.Duration) func(t *testing.T, g *rig, l *load) []recovery {
	return func(t *testing.T, g *rig, l *load) []recovery {
		if err := g.etcd.Pause(); err != nil {
			t.Fatal(err)
		}
		<-time.After(d)
		if err := g.etcd.Resume(); err != nil {
			t.Fatal(err)
		}
		return []recovery{startProbe("etcd continued", time.Now(), -1, g.servers).finish(l)}
	}
}

// killLeaderThenFollower kills the cluster's leader, waits until mappings succeed again on the
// remaining quorum, restarts it, then does the same with a follower. A quorum survives each
// kill, so recovery is timed from the kill: it is the fail-over time.
func killLeaderThenFollower(t *testing.T, g *rig, l *load) []recovery {
	var out []recovery
	for _, role := range []string{"leader", "follower"} {
		leader, err := g.cluster.WaitLeader(context.Background(), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		victim := leader
		if role == "follower" {
			victim = (leader + 1) % len(g.cluster.Members)
		}
		m := g.cluster.Members[victim]
		m.Kill()
		out = append(out, startProbe(role+" killed", time.Now(), -1, g.servers).finish(l))
		m.Start(t)
	}
	return out
}

// cancelRequests has the clients cancel part of their requests at random points (before
// sending, once connected, once sent, after a random delay) until cancelsDuringFault requests
// carried a cancel point.
func cancelRequests(t *testing.T, g *rig, l *load) []recovery {
	from := l.cancelPlanned.Load()
	l.cancels.Store(true)
	ok := waitForEvery(func() bool { return l.cancelPlanned.Load()-from >= cancelsDuringFault }, 20*time.Millisecond, afterFaultTimeout)
	l.cancels.Store(false)
	if !ok {
		t.Fatalf("fewer than %d requests were sent with a cancel point within %s", cancelsDuringFault, afterFaultTimeout)
	}
	return []recovery{startProbe("cancels stopped", time.Now(), -1, g.servers).finish(l)}
}

// waitForEvery polls cond every interval until it holds or timeout passes.
func waitForEvery(cond func() bool, interval, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteRune('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
