// Package migrate copies Images and ImageStreams from one etcd key layout to another, within
// one etcd cluster or to another one: from openshift-apiserver's keys to this server's, or
// back. Both servers store the same bytes for the same object (protobuf, see package layout),
// so values are copied byte for byte; each is decoded first, to check that the server will be
// able to read it and that it is the object its key names.
//
// A run reads the source in pages of bounded size, in key order, and writes in transactions of
// bounded size. It is idempotent: a key absent from the destination is created (only if still
// absent when the transaction commits), an identical one is left alone, and a different one is
// reported and left alone unless Overwrite is set. So a run that was interrupted is resumed by
// running it again (every key already copied is identical), or, to skip reading what is
// done, with ResumeAfter set to the last key a progress line reported. The source is never
// written to. A final check counts both sides.
package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
)

// Resource is one kind of object a migration copies.
type Resource struct {
	schema.GroupResource
	// Kind is the kind its values hold.
	Kind string
	// Namespaced resources have keys <namespace>/<name> under their root, others <name>.
	Namespaced bool
}

// Resources are what a migration copies, in this order.
var Resources = []Resource{
	{GroupResource: imagev1.Resource("images"), Kind: "Image"},
	{GroupResource: imagev1.Resource("imagestreams"), Kind: "ImageStream", Namespaced: true},
}

// Endpoint is one side of a migration: an etcd cluster, and where the objects are kept in it.
type Endpoint struct {
	Client *clientv3.Client
	Layout layout.Layout
	// Prefix is the etcd prefix (--etcd-prefix); "" means the layout's default.
	Prefix string
}

// Root is where a resource's keys start on this side.
func (e Endpoint) Root(gr schema.GroupResource) string {
	prefix := e.Prefix
	if prefix == "" {
		prefix = e.Layout.DefaultPrefix()
	}
	return e.Layout.Root(prefix, gr)
}

// Defaults of Options.
const (
	// DefaultPageSize keys are read from the source at a time: a page of large images is a few
	// megabytes.
	DefaultPageSize = 500
	// DefaultTxnMaxOps is below etcd's default --max-txn-ops (128).
	DefaultTxnMaxOps = 100
	// DefaultTxnMaxBytes keeps a transaction well below etcd's default --max-request-bytes
	// (1.5 MiB). A single value larger than this is written alone.
	DefaultTxnMaxBytes = 1 << 20
	// DefaultRequestTimeout bounds each etcd request.
	DefaultRequestTimeout = time.Minute
)

// maxProblems is how many differing or invalid keys a resource's outcome lists; the counts
// cover them all.
const maxProblems = 20

// conflictRetries is how often a batch is read and written again when another writer changed
// one of its destination keys between the read and the write.
const conflictRetries = 5

// Options configure Run.
type Options struct {
	Source, Destination Endpoint
	// PageSize is how many keys one read of the source returns (DefaultPageSize when 0).
	PageSize int64
	// TxnMaxOps and TxnMaxBytes bound each write transaction: at most that many keys, and
	// keys and values of at most that many bytes (defaults when 0).
	TxnMaxOps   int
	TxnMaxBytes int
	// DryRun reads both sides and counts what a run would do, writing nothing.
	DryRun bool
	// Overwrite replaces destination values that differ from the source's; without it they
	// are reported and left as they are.
	Overwrite bool
	// ResumeAfter, a source key, skips every key up to and including it: resources before
	// the one it belongs to entirely, and that one's keys up to it.
	ResumeAfter string
	// Progress receives a line per page read; nil discards them.
	Progress io.Writer
	// RequestTimeout bounds each etcd request (DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
}

// Outcome is what a run did with one resource.
type Outcome struct {
	Resource                    schema.GroupResource
	SourceRoot, DestinationRoot string
	// Read counts the source keys read (not those skipped by ResumeAfter).
	Read int64
	// Copied were absent from the destination and created (in a dry run: would be).
	Copied int64
	// Identical were already in the destination with the same bytes.
	Identical int64
	// Differing are in the destination with other bytes and were left alone.
	Differing int64
	// Overwritten differed and were replaced (Overwrite; in a dry run: would be).
	Overwritten int64
	// Invalid did not decode as the object their key names, and were not copied.
	Invalid int64
	// SourceCount and DestinationCount are the final counts of keys on both sides.
	SourceCount, DestinationCount int64
	// Problems name the first differing and invalid keys, and why.
	Problems []string
}

// Report is the outcome of a run.
type Report struct {
	DryRun   bool
	Outcomes []*Outcome
	// LastKey is the last source key fully handled: a run interrupted after it resumes with
	// ResumeAfter set to it.
	LastKey string
}

// Err says why the destination does not hold the source's objects after a run, nil when it
// does: invalid values, differing values left alone, or counts that differ. A dry run fails
// only for invalid values, which a real run could not copy either.
func (r *Report) Err() error {
	var problems []string
	for _, o := range r.Outcomes {
		if o.Invalid > 0 {
			problems = append(problems, fmt.Sprintf("%d %s in the source do not decode as the object their key names and were not copied", o.Invalid, o.Resource))
		}
		if r.DryRun {
			continue
		}
		if o.Differing > 0 {
			problems = append(problems, fmt.Sprintf("%d %s differ in the destination and were left as they are (--overwrite replaces them)", o.Differing, o.Resource))
		}
		if o.SourceCount != o.DestinationCount {
			problems = append(problems, fmt.Sprintf("%s: the source has %d under %s, the destination %d under %s", o.Resource, o.SourceCount, o.SourceRoot, o.DestinationCount, o.DestinationRoot))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	copied, overwritten := "copied", "overwritten"
	if r.DryRun {
		copied, overwritten = "to copy", "to overwrite"
	}
	for _, o := range r.Outcomes {
		fmt.Fprintf(w, "%s: %s -> %s: read %d, %s %d, identical %d, differing %d, %s %d, invalid %d; counted: source %d, destination %d\n",
			o.Resource, o.SourceRoot, o.DestinationRoot, o.Read, copied, o.Copied, o.Identical, o.Differing, overwritten, o.Overwritten, o.Invalid, o.SourceCount, o.DestinationCount)
		for _, p := range o.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}

// Run copies every resource from the source to the destination. It returns an error when it
// could not finish (etcd failed, ctx ended, bad options), with the report so far; Report.Err
// then says whether the destination holds what the source does.
func Run(ctx context.Context, o Options) (*Report, error) {
	m, err := newMigrator(o)
	if err != nil {
		return nil, err
	}
	report := &Report{DryRun: o.DryRun}
	for _, r := range Resources {
		report.Outcomes = append(report.Outcomes, &Outcome{
			Resource:        r.GroupResource,
			SourceRoot:      o.Source.Root(r.GroupResource),
			DestinationRoot: o.Destination.Root(r.GroupResource),
		})
	}
	if err := m.checkEndpoints(ctx, report.Outcomes); err != nil {
		return nil, err
	}
	starts, err := resumeKeys(o.ResumeAfter, report.Outcomes)
	if err != nil {
		return nil, err
	}
	for i, r := range Resources {
		if starts[i] == "" {
			continue
		}
		if err := m.copyResource(ctx, r, report.Outcomes[i], starts[i], &report.LastKey); err != nil {
			return report, err
		}
	}
	for _, out := range report.Outcomes {
		if out.SourceCount, err = m.count(ctx, o.Source.Client, out.SourceRoot); err != nil {
			return report, fmt.Errorf("counting the source's %s: %w", out.Resource, err)
		}
		if out.DestinationCount, err = m.count(ctx, o.Destination.Client, out.DestinationRoot); err != nil {
			return report, fmt.Errorf("counting the destination's %s: %w", out.Resource, err)
		}
	}
	return report, nil
}

type migrator struct {
	Options
	codec runtime.Codec
}

func newMigrator(o Options) (*migrator, error) {
	if o.Source.Client == nil || o.Destination.Client == nil {
		return nil, errors.New("a migration needs a source and a destination etcd client")
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.TxnMaxOps == 0 {
		o.TxnMaxOps = DefaultTxnMaxOps
	}
	if o.TxnMaxBytes == 0 {
		o.TxnMaxBytes = DefaultTxnMaxBytes
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.PageSize < 1 || o.TxnMaxOps < 1 || o.TxnMaxBytes < 1 || o.RequestTimeout < 0 {
		return nil, fmt.Errorf("page size %d, transaction bounds %d keys and %d bytes, request timeout %s: each must be positive", o.PageSize, o.TxnMaxOps, o.TxnMaxBytes, o.RequestTimeout)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	codec, _, err := apiserver.StorageCodec()
	if err != nil {
		return nil, err
	}
	return &migrator{Options: o, codec: codec}, nil
}

// checkEndpoints refuses a migration whose source and destination key ranges overlap in the
// same cluster: it would copy keys onto themselves or into the range it is reading.
func (m *migrator) checkEndpoints(ctx context.Context, outcomes []*Outcome) error {
	src, err := m.clusterID(ctx, m.Source.Client, outcomes[0].SourceRoot)
	if err != nil {
		return fmt.Errorf("source etcd: %w", err)
	}
	dst, err := m.clusterID(ctx, m.Destination.Client, outcomes[0].DestinationRoot)
	if err != nil {
		return fmt.Errorf("destination etcd: %w", err)
	}
	if src != dst {
		return nil
	}
	for _, a := range outcomes {
		for _, b := range outcomes {
			if strings.HasPrefix(a.SourceRoot, b.DestinationRoot) || strings.HasPrefix(b.DestinationRoot, a.SourceRoot) {
				return fmt.Errorf("source and destination are the same etcd cluster and their keys overlap (%s and %s): choose another layout or prefix for one side", a.SourceRoot, b.DestinationRoot)
			}
		}
	}
	return nil
}

// clusterID asks an etcd for its cluster's id, with a read of a root the migration reads
// anyway (an etcd with authentication may allow nothing else).
func (m *migrator) clusterID(ctx context.Context, c *clientv3.Client, root string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.RequestTimeout)
	defer cancel()
	resp, err := c.Get(ctx, root, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.ClusterId, nil
}

// resumeKeys returns, for each resource, the key to start reading from, "" to skip it.
func resumeKeys(after string, outcomes []*Outcome) ([]string, error) {
	starts := make([]string, len(outcomes))
	if after == "" {
		for i, o := range outcomes {
			starts[i] = o.SourceRoot
		}
		return starts, nil
	}
	for i, o := range outcomes {
		if !strings.HasPrefix(after, o.SourceRoot) {
			continue
		}
		// Resources before this one are done; this one continues after the key.
		starts[i] = after + "\x00"
		for j := i + 1; j < len(outcomes); j++ {
			starts[j] = outcomes[j].SourceRoot
		}
		return starts, nil
	}
	var roots []string
	for _, o := range outcomes {
		roots = append(roots, o.SourceRoot)
	}
	return nil, fmt.Errorf("resume key %q is not under the source's roots (%s)", after, strings.Join(roots, ", "))
}

func (m *migrator) count(ctx context.Context, c *clientv3.Client, root string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.RequestTimeout)
	defer cancel()
	resp, err := c.Get(ctx, root, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Count, nil
}

// entry is a source key with its value and the destination key it is copied to.
type entry struct {
	source, destination string
	value               []byte
}

// copyResource copies the resource's source keys from start to the end of its range, a page
// at a time, and reports each page.
func (m *migrator) copyResource(ctx context.Context, r Resource, out *Outcome, start string, lastKey *string) error {
	end := clientv3.GetPrefixRangeEnd(out.SourceRoot)
	total, err := m.count(ctx, m.Source.Client, out.SourceRoot)
	if err != nil {
		return fmt.Errorf("counting the source's %s: %w", r.GroupResource, err)
	}
	key := start
	for {
		resp, err := m.readPage(ctx, key, end)
		if err != nil {
			return fmt.Errorf("reading the source's %s after %q: %w", r.GroupResource, *lastKey, err)
		}
		page := resp.Kvs
		if len(page) == 0 {
			return nil
		}
		var valid []entry
		for _, kv := range page {
			e := entry{source: string(kv.Key), destination: out.DestinationRoot + strings.TrimPrefix(string(kv.Key), out.SourceRoot), value: kv.Value}
			if err := m.check(r, strings.TrimPrefix(e.source, out.SourceRoot), e.value); err != nil {
				out.Invalid++
				out.problem(fmt.Sprintf("invalid %s: %v", e.source, err))
				continue
			}
			valid = append(valid, e)
		}
		for len(valid) > 0 {
			n := m.batchLen(valid)
			if err := m.writeBatch(ctx, valid[:n], out); err != nil {
				return fmt.Errorf("writing %s after %q: %w", r.GroupResource, *lastKey, err)
			}
			valid = valid[n:]
		}
		out.Read += int64(len(page))
		*lastKey = string(page[len(page)-1].Key)
		fmt.Fprintf(m.Progress, "%s: read %d of %d; copied %d, identical %d, differing %d, overwritten %d, invalid %d; last key %s\n",
			r.GroupResource, out.Read, total, out.Copied, out.Identical, out.Differing, out.Overwritten, out.Invalid, *lastKey)
		if !resp.More {
			return nil
		}
		key = *lastKey + "\x00"
	}
}

// readPage reads up to PageSize source keys from key to end (exclusive), in key order.
func (m *migrator) readPage(ctx context.Context, key, end string) (*clientv3.GetResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, m.RequestTimeout)
	defer cancel()
	return m.Source.Client.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(m.PageSize))
}

// batchLen is how many of entries the next transaction takes: at most TxnMaxOps keys and
// TxnMaxBytes bytes of keys and values, but at least one.
func (m *migrator) batchLen(entries []entry) int {
	size := 0
	for i, e := range entries {
		size += len(e.destination) + len(e.value)
		if i == m.TxnMaxOps || (i > 0 && size > m.TxnMaxBytes) {
			return i
		}
	}
	return len(entries)
}

// encryptedPrefix starts values that a Kubernetes API server encrypted at rest.
var encryptedPrefix = []byte("k8s:enc:")

// check decodes a value with the server's storage codec and checks that it is an object of
// the resource named as its key says.
func (m *migrator) check(r Resource, suffix string, value []byte) error {
	if bytes.HasPrefix(value, encryptedPrefix) {
		// The key is the authenticated data of an AES-GCM value: a copy under another key
		// would not decrypt, so encrypted values cannot move byte for byte.
		return errors.New("the value is encrypted at rest; decrypt the source (turn its encryption off and let it rewrite the objects) before migrating")
	}
	parts := strings.Split(suffix, "/")
	want := 1
	if r.Namespaced {
		want = 2
	}
	if len(parts) != want || slices.Contains(parts, "") {
		return fmt.Errorf("the key has %d non-empty path segments after the root; %s keys have %d", len(parts), r.Kind, want)
	}
	obj, gvk, err := m.codec.Decode(value, nil, nil)
	if err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if gvk.Kind != r.Kind {
		return fmt.Errorf("holds a %s, not a %s", gvk.Kind, r.Kind)
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	name, namespace := parts[len(parts)-1], ""
	if r.Namespaced {
		namespace = parts[0]
	}
	if accessor.GetName() != name || accessor.GetNamespace() != namespace {
		return fmt.Errorf("holds %s %q in namespace %q, not the one its key names", r.Kind, accessor.GetName(), accessor.GetNamespace())
	}
	return nil
}

// writeBatch copies a batch in one transaction: it reads the destination keys, then creates
// the absent ones (if still absent) and, with Overwrite, replaces the differing ones (if
// unchanged since read). If another writer got there in between, it reads and tries again.
func (m *migrator) writeBatch(ctx context.Context, batch []entry, out *Outcome) error {
	for attempt := 0; attempt < conflictRetries; attempt++ {
		current, err := m.readDestination(ctx, batch)
		if err != nil {
			return err
		}
		var (
			cmps                           []clientv3.Cmp
			puts                           []clientv3.Op
			copied, identical, overwritten int64
			differing                      []string
		)
		for i, e := range batch {
			cur := current[i]
			switch {
			case cur == nil:
				copied++
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(e.destination), "=", 0))
				puts = append(puts, clientv3.OpPut(e.destination, string(e.value)))
			case bytes.Equal(cur.value, e.value):
				identical++
			case m.Overwrite:
				overwritten++
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.destination), "=", cur.modRevision))
				puts = append(puts, clientv3.OpPut(e.destination, string(e.value)))
			default:
				differing = append(differing, e.destination)
			}
		}
		if len(puts) > 0 && !m.DryRun {
			ok, err := m.commit(ctx, cmps, puts)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		out.Copied += copied
		out.Identical += identical
		out.Overwritten += overwritten
		out.Differing += int64(len(differing))
		for _, key := range differing {
			out.problem(fmt.Sprintf("differing %s: the destination holds other bytes than the source", key))
		}
		return nil
	}
	return fmt.Errorf("the destination keys from %s kept changing while being written (another writer?); run again", batch[0].destination)
}

type destinationValue struct {
	value       []byte
	modRevision int64
}

// readDestination reads the batch's destination keys in one request; nil for an absent key.
func (m *migrator) readDestination(ctx context.Context, batch []entry) ([]*destinationValue, error) {
	ctx, cancel := context.WithTimeout(ctx, m.RequestTimeout)
	defer cancel()
	gets := make([]clientv3.Op, len(batch))
	for i, e := range batch {
		gets[i] = clientv3.OpGet(e.destination)
	}
	resp, err := m.Destination.Client.Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return nil, fmt.Errorf("reading the destination: %w", err)
	}
	values := make([]*destinationValue, len(batch))
	for i, r := range resp.Responses {
		if kvs := r.GetResponseRange().GetKvs(); len(kvs) == 1 {
			values[i] = &destinationValue{value: kvs[0].Value, modRevision: kvs[0].ModRevision}
		}
	}
	return values, nil
}

func (m *migrator) commit(ctx context.Context, cmps []clientv3.Cmp, puts []clientv3.Op) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, m.RequestTimeout)
	defer cancel()
	resp, err := m.Destination.Client.Txn(ctx).If(cmps...).Then(puts...).Commit()
	if err != nil {
		return false, fmt.Errorf("writing the destination: %w", err)
	}
	return resp.Succeeded, nil
}

func (o *Outcome) problem(p string) {
	if len(o.Problems) < maxProblems {
		o.Problems = append(o.Problems, p)
	} else if len(o.Problems) == maxProblems {
		o.Problems = append(o.Problems, "... (more; the counts are complete)")
	}
}
