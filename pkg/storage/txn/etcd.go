package txn

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"time"
	"unsafe"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	etcd3metrics "k8s.io/apiserver/pkg/storage/etcd3/metrics"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/klog/v2"
)

// The apiserver storage factory's connection settings (storagebackend/factory/etcd3.go), so
// that our client fails over and detects dead members like the Stores' clients do.
const (
	dialTimeout      = 20 * time.Second
	keepaliveTime    = 30 * time.Second
	keepaliveTimeout = 10 * time.Second
)

// NewClient connects to the etcd of a storage config's Transport: ServerList and, when any is
// set, the TLS client certificate, key and CA. It does not wait for a connection; cancelling
// ctx stops the client's background work, and the caller must Close it (RegisterDestroyFunc).
// Egress selection and tracing of the Transport are not applied.
func NewClient(ctx context.Context, tc storagebackend.TransportConfig) (*clientv3.Client, error) {
	var tlsConfig *tls.Config
	if tc.CertFile != "" || tc.KeyFile != "" || tc.TrustedCAFile != "" {
		info := transport.TLSInfo{CertFile: tc.CertFile, KeyFile: tc.KeyFile, TrustedCAFile: tc.TrustedCAFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("etcd client TLS: %w", err)
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            tc.ServerList,
		TLS:                  tlsConfig,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    keepaliveTime,
		DialKeepAliveTimeout: keepaliveTimeout,
		Context:              ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", tc.ServerList, err)
	}
	return client, nil
}

// clientCallOptions are the call options clientv3 gives every request of a client configured
// as NewClient configures it: wait for a connection rather than fail at once, and its
// message size limits.
var clientCallOptions = []grpc.CallOption{
	grpc.WaitForReady(true),
	grpc.MaxCallSendMsgSize(2 * 1024 * 1024),
	grpc.MaxCallRecvMsgSize(math.MaxInt32),
}

// Option configures New.
type Option func(*etcdTxn)

// WithMaxRequestBytes sets the largest transaction Commit sends (default
// DefaultMaxRequestBytes); match etcd's --max-request-bytes. n <= 0 disables the check.
func WithMaxRequestBytes(n int64) Option {
	return func(e *etcdTxn) { e.maxRequestBytes = n }
}

// New returns the etcd implementation of Interface. The client must reach the etcd the
// Resources' Stores use.
func New(client *clientv3.Client, opts ...Option) PreparedCommitter {
	e := &etcdTxn{client: client, kv: clientv3.RetryKVClient(client), maxRequestBytes: DefaultMaxRequestBytes}
	for _, o := range opts {
		o(e)
	}
	return e
}

type etcdTxn struct {
	client          *clientv3.Client
	kv              etcdserverpb.KVClient // the client's own, with its retry policy
	maxRequestBytes int64
}

var _ PreparedCommitter = &etcdTxn{}

// Get implements Interface.
func (e *etcdTxn) Get(ctx context.Context, r *Resource, namespace, name string, into runtime.Object) (int64, error) {
	key, err := r.Key(ctx, namespace, name)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	// clientv3 reads are linearizable unless WithSerializable is given.
	resp, err := e.client.Get(ctx, key)
	etcd3metrics.RecordEtcdRequest("get", r.GroupResource(), err, start)
	if err != nil {
		return 0, internalError(fmt.Errorf("reading %s %q: %w", r.GroupResource(), name, err))
	}
	if len(resp.Kvs) == 0 {
		return 0, apierrors.NewNotFound(r.GroupResource(), name)
	}
	kv := resp.Kvs[0]
	if err := r.Decode(ctx, key, kv.Value, kv.ModRevision, into); err != nil {
		return 0, err
	}
	return kv.ModRevision, nil
}

// Commit implements Interface.
func (e *etcdTxn) Commit(ctx context.Context, ops ...Op) (int64, error) {
	prepared, err := Prepare(ctx, e.maxRequestBytes, ops)
	if err != nil {
		recordCommit(err)
		return 0, err
	}
	return e.CommitPrepared(ctx, prepared)
}

// CommitPrepared implements PreparedCommitter: If(ModRevision(key) == Revision for every op)
// Then(put every written value) Else(get every key), so a conflict costs no extra round trip.
//
// The request is built directly rather than through clientv3's Op helpers, which copy every
// key three times and every value once: keys and values are handed to gRPC as they are,
// since it only reads them while marshalling, before Txn returns.
func (e *etcdTxn) CommitPrepared(ctx context.Context, prepared []PreparedOp) (int64, error) {
	req := &etcdserverpb.TxnRequest{
		Compare: make([]*etcdserverpb.Compare, 0, len(prepared)),
		Success: make([]*etcdserverpb.RequestOp, 0, len(prepared)),
		Failure: make([]*etcdserverpb.RequestOp, 0, len(prepared)),
	}
	for _, p := range prepared {
		key := unsafe.Slice(unsafe.StringData(p.Key), len(p.Key))
		// ModRevision is 0 for an absent key, so Revision 0 means "must not exist", as in
		// the etcd3 store's OptimisticPut.
		req.Compare = append(req.Compare, &etcdserverpb.Compare{
			Result: etcdserverpb.Compare_EQUAL, Target: etcdserverpb.Compare_MOD, Key: key,
			TargetUnion: &etcdserverpb.Compare_ModRevision{ModRevision: p.Revision},
		})
		if p.Obj != nil {
			req.Success = append(req.Success, &etcdserverpb.RequestOp{Request: &etcdserverpb.RequestOp_RequestPut{
				RequestPut: &etcdserverpb.PutRequest{Key: key, Value: p.Value},
			}})
		}
		req.Failure = append(req.Failure, &etcdserverpb.RequestOp{Request: &etcdserverpb.RequestOp_RequestRange{
			RequestRange: &etcdserverpb.RangeRequest{Key: key},
		}})
	}

	start := time.Now()
	resp, err := e.kv.Txn(ctx, req, clientCallOptions...)
	if err != nil {
		err = clientv3.ContextError(ctx, err)
	}
	for _, gr := range groupResources(prepared) {
		etcd3metrics.RecordEtcdRequest("txn", gr, err, start)
	}
	if err != nil {
		// The request may have reached etcd and been applied before the error (a timeout, a
		// lost connection, a leader change): only a later read can tell.
		err = NewOutcomeUnknownError(fmt.Errorf("etcd transaction: %w", err))
		recordCommit(err)
		return 0, err
	}
	if !resp.Succeeded {
		err := e.conflict(ctx, prepared, resp)
		recordCommit(err)
		return 0, err
	}
	rev := resp.Header.Revision
	if err := SetRevisions(prepared, rev); err != nil {
		return 0, err
	}
	recordCommit(nil)
	klog.FromContext(ctx).V(6).Info("Committed transaction", "revision", rev, "ops", len(prepared))
	return rev, nil
}

// conflict builds the ConflictError from the Else reads, which ran at the same revision as
// the failed compares.
func (e *etcdTxn) conflict(ctx context.Context, prepared []PreparedOp, resp *etcdserverpb.TxnResponse) error {
	if len(resp.Responses) != len(prepared) {
		return apierrors.NewInternalError(fmt.Errorf("etcd transaction failed with %d reads for %d keys", len(resp.Responses), len(prepared)))
	}
	logger := klog.FromContext(ctx)
	var conflicts []Conflict
	for i, p := range prepared {
		c := Conflict{Index: i, Op: p.Op}
		var value []byte
		if kvs := resp.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			c.Revision, value = kvs[0].ModRevision, kvs[0].Value
		}
		if c.Revision == p.Revision {
			continue
		}
		if value != nil {
			c.Object = p.Resource.New()
			if err := p.Resource.Decode(ctx, p.Key, value, c.Revision, c.Object); err != nil {
				return err
			}
		}
		logger.V(4).Info("Transaction compare failed", "resource", p.Resource.GroupResource(),
			"object", klog.KRef(p.Namespace, p.Name), "expectedRevision", p.Revision, "currentRevision", c.Revision)
		conflicts = append(conflicts, c)
	}
	if len(conflicts) == 0 {
		// Compares and reads run at one revision, so this cannot happen; do not pretend.
		return apierrors.NewInternalError(fmt.Errorf("etcd transaction failed although every revision matched"))
	}
	recordConflicts(conflicts)
	return NewConflictError(conflicts)
}

// groupResources lists the distinct resources of a transaction, for etcd request metrics.
func groupResources(prepared []PreparedOp) []schema.GroupResource {
	var out []schema.GroupResource
	seen := map[schema.GroupResource]bool{}
	for _, p := range prepared {
		if gr := p.Resource.GroupResource(); !seen[gr] {
			seen[gr] = true
			out = append(out, gr)
		}
	}
	return out
}
