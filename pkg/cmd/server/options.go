// Package server holds the image-apiserver command: its flags, their validation and the
// configuration they produce.
package server

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	kubeversion "k8s.io/component-base/version"
	netutils "k8s.io/utils/net"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/image-apiserver/image-apiserver/pkg/admission/validutf8"
	v1defaults "github.com/image-apiserver/image-apiserver/pkg/apis/image/v1"
	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/controller/leader"
	"github.com/image-apiserver/image-apiserver/pkg/importer"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagesecret"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/server/filters"
	"github.com/image-apiserver/image-apiserver/pkg/server/gcfloor"
	"github.com/image-apiserver/image-apiserver/pkg/standalone"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/version"
)

// etcdPrefix is the key prefix; the storage factory appends <group>/<resource>, giving
// /registry/image.openshift.io/imagestreams/<ns>/<name>. (A prefix of /registry/<group> would
// write the group twice.)
const etcdPrefix = "/registry"

// Options are all the flags of image-apiserver.
type Options struct {
	// Components holds the effective version (--emulated-version) and the feature gates
	// (--feature-gates) of the Kubernetes libraries; see newComponentGlobals.
	Components  basecompatibility.ComponentGlobalsRegistry
	Recommended *genericoptions.RecommendedOptions
	ServerRun   *genericoptions.ServerRunOptions
	Logs        *logsapi.LoggingConfiguration

	// Standalone runs without Kubernetes: own TLS, generated admin token (D10).
	Standalone bool
	// DataDir holds the embedded etcd data and, standalone, the certificate and admin token.
	DataDir string
	// WriteKubeconfig is where standalone mode writes the admin kubeconfig.
	WriteKubeconfig string
	// RegistryHostname and PublicRegistryHostname feed the stream repositories (D11).
	RegistryHostname       string
	PublicRegistryHostname string
	// MaxImageStreamBytes is the largest stored stream a mapping may produce (D8).
	MaxImageStreamBytes int
	// ImageIndexMaxBytes bounds the image index behind imagestreams/layers; 0 turns it off.
	ImageIndexMaxBytes int64
	// StreamCacheMaxBytes bounds the cache of current streams; 0 turns it off.
	StreamCacheMaxBytes int64
	// GCHeapFloor is the heap goal below which the Go collector does not run; 0 leaves GOGC alone.
	GCHeapFloor int64
	// GCMaxHeapSlack caps how far past its live objects the heap grows; 0 is no cap.
	GCMaxHeapSlack int64
	// AllowedRegistriesForImport limits the registries ImageStreamImport reads (empty: all).
	AllowedRegistriesForImport []string
	// MaxImagesBulkImportedPerRepository is how many tags a repository import takes (-1: all).
	MaxImagesBulkImportedPerRepository int
	// ImageImportMode is the default import mode of tags and imports that name none.
	ImageImportMode string
	// ImportDockerConfig is a docker config.json with the credentials of imports (standalone).
	ImportDockerConfig string
	// ImportRegistryQPS and ImportRegistryBurst pace the requests imports make to a registry.
	ImportRegistryQPS   float64
	ImportRegistryBurst int
	// ScheduledImageImportInterval and MaxScheduledImageImportsPerMinute pace scheduled imports.
	ScheduledImageImportInterval      durationFlag
	MaxScheduledImageImportsPerMinute int
	// MaxTagHistory is the number of events each tag keeps (D16); 0, the default, keeps all.
	MaxTagHistory int
	// MappingFastPath serves plain mapping creates without the generic create handler.
	MappingFastPath bool
	// EmbeddedEtcdTimeout bounds how long the embedded etcd may take to start.
	EmbeddedEtcdTimeout durationFlag
	// RequestBodyTimeout bounds how long a request body may take to arrive once the server
	// reads it; 0 disables the bound.
	RequestBodyTimeout durationFlag
	// Notifications configure the registry notification endpoint.
	Notifications NotificationOptions
	// StorageLayout is where Images and ImageStreams live in etcd: this server's keys or
	// openshift-apiserver's (see package layout).
	StorageLayout layout.Layout
}

// defaultImageIndexMaxBytes bounds the image index at 512 MiB: some 700 000 images.
const defaultImageIndexMaxBytes = 512 << 20

// defaultStreamCacheMaxBytes bounds the stream cache at 512 MiB: some 50 000 streams of ten
// tags with ten events each.
const defaultStreamCacheMaxBytes = 512 << 20

// NewOptions returns the defaults.
func NewOptions() (*Options, error) {
	codec, versioner, err := apiserver.StorageCodec()
	if err != nil {
		return nil, err
	}
	components, err := newComponentGlobals()
	if err != nil {
		return nil, err
	}
	o := &Options{
		Components:          components,
		Recommended:         genericoptions.NewRecommendedOptions(etcdPrefix, codec),
		ServerRun:           genericoptions.NewServerRunOptionsForComponent(basecompatibility.DefaultKubeComponent, components),
		Logs:                logsapi.NewLoggingConfiguration(),
		DataDir:             defaultDataDir(),
		EmbeddedEtcdTimeout: durationFlag(defaultEmbeddedEtcdTimeout),
		RequestBodyTimeout:  durationFlag(defaultRequestBodyTimeout),
		MaxImageStreamBytes: imagestreammapping.DefaultMaxImageStreamBytes,
		ImageIndexMaxBytes:  defaultImageIndexMaxBytes,
		StreamCacheMaxBytes: defaultStreamCacheMaxBytes,
		GCHeapFloor:         gcfloor.DefaultFloor,
		GCMaxHeapSlack:      gcfloor.DefaultMaxSlack,
		MappingFastPath:     true,

		MaxImagesBulkImportedPerRepository: 50,
		ImportRegistryQPS:                  importer.DefaultRegistryQPS,
		ImportRegistryBurst:                importer.DefaultRegistryBurst,
		ScheduledImageImportInterval:       durationFlag(15 * time.Minute),
		MaxScheduledImageImportsPerMinute:  60,
		ImageImportMode:                    string(imagev1.ImportModeLegacy),
		StorageLayout:                      layout.Default,
	}
	o.Recommended.Etcd.StorageConfig.EncodeVersioner = versioner
	// Images are many, large, immutable and rarely watched: a watch cache would hold every one
	// of them in memory (about 10 KB each), while a paginated LIST from etcd is nearly as fast;
	// the image index keeps what imagestreams/layers needs. A watch cache of streams keeps, on
	// top of every stream, at least 75 s of past events with their previous objects: at a
	// thousand pushes a second, gigabytes that stay after the burst; the stream cache keeps
	// the current streams only. So GET, LIST and WATCH of both are served from etcd.
	// --watch-cache-sizes replaces this default.
	o.Recommended.Etcd.WatchCacheSizes = []string{"images.image.openshift.io#0", "imagestreams.image.openshift.io#0"}
	o.Recommended.SecureServing.BindPort = 8443
	o.Recommended.SecureServing.ServerCert.PairName = "image-apiserver"
	// The generic default, apiserver.local.config/certificates, is relative to the working
	// directory: started from a source checkout, the server would write its private key where
	// `git add` picks it up. Complete chooses the directory instead (see there).
	o.Recommended.SecureServing.ServerCert.CertDirectory = ""
	// Aggregated servers behind one kube-apiserver multiplex many requests on one connection.
	o.Recommended.SecureServing.HTTP2MaxStreamsPerConnection = 1000
	return o, nil
}

// Flags returns the named flag sets, printed in sections by --help.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("image-apiserver")
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone, "Run without Kubernetes: generate a serving certificate and an admin token under --data-dir, accept only that token, and write an admin kubeconfig to --write-kubeconfig. Without it the server runs aggregated behind a kube-apiserver with delegated authentication and authorization.")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory (created with mode 0700) for the embedded etcd, used when --etcd-servers is empty, and, with --standalone, the generated serving certificate and admin token. The default is $XDG_STATE_HOME/image-apiserver, or ~/.local/state/image-apiserver without XDG_STATE_HOME; never the working directory.")
	fs.StringVar(&o.WriteKubeconfig, "write-kubeconfig", o.WriteKubeconfig, "With --standalone: write an admin kubeconfig for this server to this file.")
	fs.StringVar(&o.RegistryHostname, "registry-hostname", o.RegistryHostname, "Internal registry host[:port]: image streams report <host>/<namespace>/<name> as status.dockerImageRepository. The host is a lowercase DNS name (RFC 1123 subdomain) or an IP address, an IPv6 address in brackets; the port is 1-65535.")
	fs.StringVar(&o.PublicRegistryHostname, "public-registry-hostname", o.PublicRegistryHostname, "Public registry host[:port]: image streams report <host>/<namespace>/<name> as status.publicDockerImageRepository. Same syntax as --registry-hostname.")
	fs.IntVar(&o.MaxImageStreamBytes, "max-imagestream-bytes", o.MaxImageStreamBytes, "Largest size in bytes a stored image stream may reach through an ImageStreamMapping; a mapping that would exceed it gets 413 and writes nothing. Keep it under etcd's --max-request-bytes (1.5 MiB by default).")
	fs.Int64Var(&o.GCHeapFloor, "gc-heap-floor", o.GCHeapFloor, "Heap size, in bytes, below which the Go garbage collector does not start a cycle. A server with a small live heap that takes many requests otherwise spends a large part of its CPU collecting; above twice the live heap GOGC applies as usual. Memory beyond the live heap is returned to the system once the server is quiet. 0 leaves the collector as GOGC sets it.")
	fs.Int64Var(&o.GCMaxHeapSlack, "gc-max-heap-slack", o.GCMaxHeapSlack, "Bound, in bytes, of how far the heap grows past its live objects before the Go garbage collector runs: GOGC=100 lets a server with 250 MiB of live objects reach 500 MiB. Below the bound GOGC applies as usual; --gc-heap-floor wins over it. 0 is no bound.")
	fs.Int64Var(&o.ImageIndexMaxBytes, "image-index-max-bytes", o.ImageIndexMaxBytes, "Bound, in bytes, of the in-memory index of images that imagestreams/layers and imagestreamimages read (about 750 bytes per image, so the default holds some 700 000 images). Images beyond it are read from etcd when an answer needs them. 0 turns the index off: every answer reads its images from etcd.")
	fs.BoolVar(&o.MappingFastPath, "mapping-fast-path", o.MappingFastPath, "Serve plain ImageStreamMapping creates (no query parameters, a JSON or protobuf body, as registries and client libraries send them) without the generic create handler: the same authentication, authorization, audit, admission, validation, storage, answers and metrics, without the managed-fields computation of a mapping that is never stored. false sends every mapping through the generic handler.")
	fs.IntVar(&o.MaxTagHistory, "max-tag-history", o.MaxTagHistory, "Number of events each tag of an image stream keeps: a push that would make a tag's history longer drops its oldest events in the same write (images are not deleted). 0 keeps every event, as OpenShift does. A stream's image.openshift.io/max-tag-history annotation overrides it (0 there: no limit for that stream).")
	fs.Int64Var(&o.StreamCacheMaxBytes, "imagestream-cache-max-bytes", o.StreamCacheMaxBytes, "Bound, in bytes, of the in-memory cache of current image streams that pushes, tag writes and imagestreams/layers read (a stream costs about three times its stored size). Streams beyond it are read from etcd. 0 turns the cache off.")
	fs.StringSliceVar(&o.AllowedRegistriesForImport, strings.TrimPrefix(importer.AllowedRegistriesFlag, "--"), o.AllowedRegistriesForImport, "Registries ImageStreamImport may read, as host, host:port or *.domain[:port]; an image from any other is refused with 403 in its status. Empty allows every registry, as OpenShift's default.")
	fs.IntVar(&o.MaxImagesBulkImportedPerRepository, "max-images-bulk-imported-per-repository", o.MaxImagesBulkImportedPerRepository, "How many tags an ImageStreamImport of a whole repository takes, in OpenShift's priority order (latest, then versions, newest first); the others are listed in status.repository.additionalTags. -1 takes all.")
	fs.StringVar(&o.ImageImportMode, "image-import-mode", o.ImageImportMode, "Import mode of spec tags and imports that name none: Legacy (a manifest list is imported as the one image of this server's platform) or PreserveOriginal (the list and every image in it).")
	fs.StringVar(&o.ImportDockerConfig, "import-docker-config", o.ImportDockerConfig, "A docker config.json whose credentials ImageStreamImport uses for registries. Aggregated servers use the namespace's pull secrets instead.")
	fs.Float64Var(&o.ImportRegistryQPS, "import-registry-qps", o.ImportRegistryQPS, "Manifest and tag-list requests a second that all imports together (ImageStreamImport, automatic and scheduled imports) make to one registry host; a 50-tag repository import takes some 25 s at the default, which spares public registries. Raise it for registries of your own.")
	fs.IntVar(&o.ImportRegistryBurst, "import-registry-burst", o.ImportRegistryBurst, "Requests beyond --import-registry-qps that imports may make to one registry host at once.")
	fs.Var(&o.ScheduledImageImportInterval, "scheduled-image-import-interval", "How often spec tags with importPolicy.scheduled are imported again, spread over the interval.")
	fs.IntVar(&o.MaxScheduledImageImportsPerMinute, "max-scheduled-image-imports-per-minute", o.MaxScheduledImageImportsPerMinute, "At most this many scheduled imports start in a minute.")
	o.Notifications.AddFlags(&fss)
	fs.Var(&o.EmbeddedEtcdTimeout, "embedded-etcd-start-timeout", "How long the embedded etcd may take to start.")
	fs.Var(&o.StorageLayout, "storage-layout", "Where Images and ImageStreams are kept in etcd: default (<etcd-prefix>/image.openshift.io/images/<name>, .../imagestreams/<namespace>/<name>) or openshift, openshift-apiserver's keys (<etcd-prefix>/images/<name>, <etcd-prefix>/imagestreams/<namespace>/<name>, with --etcd-prefix defaulting to /openshift.io), to serve an OpenShift cluster's etcd in place. Every read, write, watch and transaction uses the chosen keys; the values are the same protobuf either way. image-apiserver migrate-storage copies objects from one layout to the other.")
	fs.Var(&o.RequestBodyTimeout, "request-body-timeout", "How long a request body may take to arrive, from the server's first read of it to its end; a body still arriving then gets 408 Request Timeout. Requests without a body (get, list, watch) are not affected. 0 disables the bound. The default allows the largest body (3 MiB) at 2.5 Mbit/s.")

	generic := fss.FlagSet("generic")
	o.Recommended.AddFlags(generic)
	if f := generic.Lookup("cert-dir"); f != nil {
		f.Usage = "Directory of the serving certificate and key (" + o.Recommended.SecureServing.ServerCert.PairName + ".crt and .key), generated there on first start and reused afterwards. Ignored when --tls-cert-file and --tls-private-key-file are given. The default is <data-dir>/certs with --standalone; otherwise none, and a generated certificate is kept in memory only, a new one on every start."
	}
	if f := generic.Lookup("etcd-prefix"); f != nil {
		// The default is not one value any more: say it in the text.
		f.DefValue = ""
		f.Usage = "The prefix of every key in etcd. Its default follows --storage-layout: /registry, or /openshift.io with --storage-layout=openshift (openshift-apiserver's default storagePrefix; give this flag only when that cluster's storageConfig.storagePrefix differs)."
	}
	o.ServerRun.AddUniversalFlags(fss.FlagSet("server run"))
	logsapi.AddFlags(o.Logs, fss.FlagSet("logging"))
	o.Components.AddFlags(fss.FlagSet("features"))
	return fss
}

// newComponentGlobals registers the Kubernetes component at the version of the k8s.io
// libraries this server is built with. The generic registry
// (k8s.io/apiserver/pkg/util/compatibility) derives it from component-base's gitVersion
// instead: a build that stamped our own version (v0.x) there would refuse to start, because
// the emulation version 0.x is below the oldest one the libraries support (1.31). Our version
// lives in pkg/version.
func newComponentGlobals() (basecompatibility.ComponentGlobalsRegistry, error) {
	binary := utilversion.MustParse(kubeversion.DefaultKubeBinaryVersion)
	floor := binary.SubtractMinor(3) // the N-3 emulation range of kube-apiserver
	r := basecompatibility.NewComponentGlobalsRegistry()
	if err := r.Register(basecompatibility.DefaultKubeComponent,
		basecompatibility.NewEffectiveVersion(binary, false, floor, floor), utilfeature.DefaultMutableFeatureGate); err != nil {
		return nil, err
	}
	return r, nil
}

// defaultDataDir is where the server keeps its state when --data-dir is not given:
// $XDG_STATE_HOME/image-apiserver, or ~/.local/state/image-apiserver. Never the working
// directory: started from a source checkout, the server would otherwise leave an etcd
// database, a private key and an admin token where `git add` picks them up. The XDG state
// directory is meant for exactly this kind of data: it must survive restarts, but is local to
// the machine and not worth backing up like documents. It is "" when neither variable gives
// an absolute path (no $HOME, as in some containers): --data-dir is then required wherever it
// is used, which Validate reports.
func defaultDataDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		// The XDG spec says a relative value is invalid and must be ignored.
		home, err := os.UserHomeDir()
		if err != nil || !filepath.IsAbs(home) {
			return ""
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "image-apiserver")
}

// Complete fills in defaults that depend on other flags. bindAddressSet and certDirSet say
// whether --bind-address and --cert-dir were given.
func (o *Options) Complete(bindAddressSet, certDirSet bool) error {
	if o.Standalone && !bindAddressSet {
		// A standalone server has no network policy in front of it: listen on loopback unless
		// told otherwise.
		o.Recommended.SecureServing.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
	}
	if o.Standalone && !certDirSet && o.DataDir != "" {
		// Keep a generated certificate with the rest of the server's state, so that a restart
		// reuses it and the kubeconfigs that trust it stay valid. An aggregated server without
		// --cert-dir keeps a generated certificate in memory: it is normally given one with
		// --tls-cert-file, and the aggregator trusts a caBundle, not a file of ours.
		o.Recommended.SecureServing.ServerCert.CertDirectory = filepath.Join(o.DataDir, "certs")
	}
	return o.ServerRun.DefaultAdvertiseAddress(o.Recommended.SecureServing.SecureServingOptions)
}

// CompleteStorageLayout gives --etcd-prefix the default of --storage-layout when the flag was
// not given (etcdPrefixSet false): openshift-apiserver keeps its objects under /openshift.io,
// its default storagePrefix. A prefix given explicitly is kept under either layout, for an
// OpenShift whose storagePrefix was changed, or a default layout under another prefix.
func (o *Options) CompleteStorageLayout(etcdPrefixSet bool) {
	if !etcdPrefixSet {
		o.Recommended.Etcd.StorageConfig.Prefix = o.StorageLayout.DefaultPrefix()
	}
}

// Validate returns every flag error at once.
func (o *Options) Validate() error {
	var errs []error
	// Without --etcd-servers the embedded etcd is used; validate the rest of the etcd flags.
	etcd := *o.Recommended.Etcd
	if len(etcd.StorageConfig.Transport.ServerList) == 0 {
		etcd.StorageConfig.Transport.ServerList = []string{"http://embedded-etcd"}
	}
	if o.Standalone {
		// Delegated authn/authz and the kube API are not used standalone.
		errs = append(errs, etcd.Validate()...)
		errs = append(errs, o.Recommended.SecureServing.Validate()...)
		errs = append(errs, o.Recommended.Audit.Validate()...)
	} else {
		recommended := *o.Recommended
		recommended.Etcd = &etcd
		errs = append(errs, recommended.Validate()...)
		if o.WriteKubeconfig != "" {
			errs = append(errs, fmt.Errorf("--write-kubeconfig needs --standalone: aggregated, clients use their kube-apiserver kubeconfig"))
		}
	}
	errs = append(errs, o.ServerRun.Validate()...)
	if o.MaxImageStreamBytes < 1024 || o.MaxImageStreamBytes > 1536*1024 {
		errs = append(errs, fmt.Errorf("--max-imagestream-bytes=%d: must be between 1024 and %d (etcd's default request limit)", o.MaxImageStreamBytes, 1536*1024))
	}
	if o.GCMaxHeapSlack < 0 {
		errs = append(errs, fmt.Errorf("--gc-max-heap-slack=%d: must be 0 (no bound) or a size in bytes", o.GCMaxHeapSlack))
	}
	if o.GCHeapFloor < 0 {
		errs = append(errs, fmt.Errorf("--gc-heap-floor=%d: must be 0 (GOGC alone) or a size in bytes", o.GCHeapFloor))
	}
	if o.ImageIndexMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("--image-index-max-bytes=%d: must be 0 (no index) or a size in bytes", o.ImageIndexMaxBytes))
	}
	switch imagev1.ImportModeType(o.ImageImportMode) {
	case imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
	default:
		errs = append(errs, fmt.Errorf("--image-import-mode=%q: must be Legacy or PreserveOriginal", o.ImageImportMode))
	}
	if o.MaxImagesBulkImportedPerRepository < -1 || o.MaxImagesBulkImportedPerRepository == 0 {
		errs = append(errs, fmt.Errorf("--max-images-bulk-imported-per-repository=%d: must be a positive number, or -1 for all", o.MaxImagesBulkImportedPerRepository))
	}
	if o.ImportRegistryQPS <= 0 || o.ImportRegistryBurst < 1 {
		errs = append(errs, fmt.Errorf("--import-registry-qps=%g and --import-registry-burst=%d: must be positive", o.ImportRegistryQPS, o.ImportRegistryBurst))
	}
	if time.Duration(o.ScheduledImageImportInterval) < time.Second || o.MaxScheduledImageImportsPerMinute < 1 {
		errs = append(errs, fmt.Errorf("--scheduled-image-import-interval must be at least 1s and --max-scheduled-image-imports-per-minute at least 1"))
	}
	if o.StreamCacheMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("--imagestream-cache-max-bytes=%d: must be 0 (no cache) or a size in bytes", o.StreamCacheMaxBytes))
	}
	if o.MaxTagHistory < 0 {
		errs = append(errs, fmt.Errorf("--max-tag-history=%d: must not be negative (0 keeps every event)", o.MaxTagHistory))
	}
	if o.DataDir == "" && len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0 {
		errs = append(errs, fmt.Errorf("--data-dir is required for the embedded etcd when --etcd-servers is empty (it has no default without $XDG_STATE_HOME or $HOME)"))
	}
	if o.Standalone && o.DataDir == "" {
		errs = append(errs, fmt.Errorf("--data-dir is required with --standalone: it holds the serving certificate and admin token (it has no default without $XDG_STATE_HOME or $HOME)"))
	}
	if o.RequestBodyTimeout < 0 {
		errs = append(errs, fmt.Errorf("--request-body-timeout=%s: must not be negative (0 disables the bound)", o.RequestBodyTimeout.String()))
	}
	errs = append(errs, validateRegistryHostname("--registry-hostname", o.RegistryHostname)...)
	errs = append(errs, validateRegistryHostname("--public-registry-hostname", o.PublicRegistryHostname)...)
	errs = append(errs, o.Notifications.Validate()...)
	if err := logsapi.ValidateAndApply(o.Logs, nil); err != nil {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

// validateRegistryHostname checks a registry flag's value, host[:port], as image references
// need it: the host is a lowercase RFC 1123 DNS subdomain or an IP address (registries are
// often addressed as 172.30.x.y:5000), an IPv6 address written in brackets ([fd00::1]:5000),
// and the port is a number from 1 to 65535. Empty means not set. Every error names the flag
// and the rule broken.
func validateRegistryHostname(flag, value string) []error {
	if value == "" {
		return nil
	}
	bad := func(format string, args ...any) []error {
		return []error{fmt.Errorf("%s=%q: %s", flag, value, fmt.Sprintf(format, args...))}
	}
	if strings.Contains(value, "://") {
		return bad("give host[:port] without a scheme")
	}
	host, port, hasPort := value, "", false
	switch {
	case strings.HasPrefix(value, "["):
		end := strings.IndexByte(value, ']')
		if end < 0 {
			return bad("an IPv6 address in brackets misses its closing bracket")
		}
		host, port = value[:end+1], value[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return bad("%q after the bracketed address: give host or host:port", port)
		}
		port, hasPort = strings.CutPrefix(port, ":")
	case strings.Count(value, ":") > 1:
		return bad("write an IPv6 address in brackets, as in [%s]:5000", value)
	default:
		host, port, hasPort = strings.Cut(value, ":")
	}
	if hasPort && port == "" {
		return bad("the port after %q is empty; give host or host:port", host)
	}
	var errs []error
	if ip, bracketed := strings.CutPrefix(host, "["); bracketed {
		ip = strings.TrimSuffix(ip, "]")
		if !strings.Contains(ip, ":") || len(validation.IsValidIP(nil, ip)) != 0 {
			errs = append(errs, bad("host %q: only an IPv6 address may be written in brackets", host)...)
		}
	} else if msgs := validation.IsDNS1123Subdomain(host); len(msgs) != 0 && len(validation.IsValidIP(nil, host)) != 0 {
		errs = append(errs, bad("host %q must be a DNS name or an IP address: %s", host, strings.Join(msgs, "; "))...)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil {
			errs = append(errs, bad("port %q must be a number from 1 to 65535", port)...)
		} else if msgs := validation.IsValidPortNum(n); len(msgs) != 0 {
			errs = append(errs, bad("port %d %s", n, strings.Join(msgs, "; "))...)
		}
	}
	return errs
}

// Config builds the server configuration. adminToken is only used standalone.
func (o *Options) Config(adminToken string) (*apiserver.Config, error) {
	ip := netutils.ParseIPSloppy("127.0.0.1")
	// The aggregator connects to <service>.<namespace>.svc; the default service name of the
	// manifests is included so that a generated certificate works there too.
	alternateDNS := []string{"api.image-system.svc", "api.image-system.svc.cluster.local"}
	if err := o.generateServingCert(alternateDNS, []net.IP{ip}); err != nil {
		return nil, err
	}

	cfg := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	if err := o.ServerRun.ApplyTo(&cfg.Config); err != nil {
		return nil, err
	}
	configureOpenAPI(cfg)
	if o.Standalone {
		if err := o.applyStandalone(cfg, adminToken); err != nil {
			return nil, err
		}
	} else {
		if err := o.Recommended.ApplyTo(cfg); err != nil {
			return nil, err
		}
		if cfg.Authentication.Authenticator != nil && o.Recommended.Authorization != nil {
			// Requests that bypass the aggregator are 401, not served as system:anonymous.
			cfg.Authentication.Authenticator = anonymousOnlyOn(cfg.Authentication.Authenticator, o.Recommended.Authorization.AlwaysAllowPaths)
		}
	}
	// Every Store, and the stream writer's transactions that derive their keys from the same
	// RESTOptions, use the layout's keys.
	cfg.RESTOptionsGetter = o.StorageLayout.RESTOptionsGetter(cfg.RESTOptionsGetter)
	o.hardenRequestHandling(cfg)
	extra := apiserver.ExtraConfig{
		RegistryHostnames:         imagestream.RegistryHostnames{Internal: o.RegistryHostname, Public: o.PublicRegistryHostname},
		MaxImageStreamBytes:       o.MaxImageStreamBytes,
		ImageIndexMaxBytes:        o.ImageIndexMaxBytes,
		StreamCacheMaxBytes:       o.StreamCacheMaxBytes,
		MaxTagHistory:             o.MaxTagHistory,
		MappingFastPath:           o.MappingFastPath,
		ScheduledImportInterval:   time.Duration(o.ScheduledImageImportInterval),
		ScheduledImportsPerMinute: o.MaxScheduledImageImportsPerMinute,
		Importer: importer.New(importer.Options{
			MaxTagsPerRepository: o.MaxImagesBulkImportedPerRepository,
			DefaultImportMode:    imagev1.ImportModeType(o.ImageImportMode),
			AllowedRegistries:    o.AllowedRegistriesForImport,
			RegistryQPS:          o.ImportRegistryQPS,
			RegistryBurst:        o.ImportRegistryBurst,
		}),
	}
	// Decoding defaults every tag's import mode; set before the server decodes anything.
	v1defaults.DefaultImportMode = imagev1.ImportModeType(o.ImageImportMode)
	if o.ImportDockerConfig != "" {
		keychain, err := importer.KeychainFromDockerConfigFile(o.ImportDockerConfig)
		if err != nil {
			return nil, fmt.Errorf("--import-docker-config: %w", err)
		}
		extra.ImportKeychain = keychain
	}
	notifications, err := o.Notifications.config(extra.ImportKeychain)
	if err != nil {
		return nil, err
	}
	extra.Notifications = notifications
	if err := notifications.ApplyClientCA(&cfg.Authentication, cfg.SecureServing); err != nil {
		return nil, fmt.Errorf("--registry-notifications-client-ca-file: %w", err)
	}
	cfg.LongRunningFunc = longRunningImports(cfg.LongRunningFunc)
	if !o.Standalone {
		// Aggregated: pull secrets come from kube-apiserver, read with the server's own
		// identity (--kubeconfig, or its ServiceAccount in a cluster).
		secrets, err := imagesecret.NewKubeSecrets(cfg.ClientConfig)
		if err != nil {
			return nil, err
		}
		extra.Secrets = secrets
		election, err := automaticImportsElection(cfg.ClientConfig)
		if err != nil {
			return nil, err
		}
		extra.Election = election
	}
	return &apiserver.Config{GenericConfig: cfg, ExtraConfig: extra}, nil
}

// generateServingCert generates a self-signed serving certificate unless --tls-cert-file and
// --tls-private-key-file are given: in the certificate directory when there is one (where a
// certificate of an earlier start is reused), else in memory.
func (o *Options) generateServingCert(alternateDNS []string, alternateIPs []net.IP) error {
	ss := o.Recommended.SecureServing
	dir := ss.ServerCert.CertDirectory
	inDir := dir != "" && ss.ServerCert.CertKey.CertFile == "" && ss.ServerCert.CertKey.KeyFile == ""
	certFile := filepath.Join(dir, ss.ServerCert.PairName+".crt")
	existed := false
	if inDir {
		// The directory holds a private key: only the server's user may enter it. The generic
		// code would create it world-readable.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the certificate directory: %w", err)
		}
		_, err := os.Stat(certFile)
		existed = err == nil
	}
	if err := ss.MaybeDefaultWithSelfSignedCerts("localhost", alternateDNS, alternateIPs); err != nil {
		return fmt.Errorf("creating a self-signed serving certificate: %w", err)
	}
	if _, err := os.Stat(certFile); inDir && !existed && err == nil {
		// The generic code writes the certificate world-readable; like the key it is server
		// state that only the server's user needs. A certificate that was there before, maybe
		// on a read-only volume, is left as it is.
		if err := os.Chmod(certFile, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// hardenRequestHandling adds what the generic apiserver lacks against malformed and abusive
// requests: a bound on how long a body may take to arrive (the generic chain has none, so a
// client trickling its body holds a request slot for as long as it trickles, at least until
// the request timeout), a check that JSON and YAML bodies are UTF-8 (the JSON decoder would silently
// replace invalid bytes), and an admission check that every stored string is UTF-8 (the
// protobuf decoder copies invalid bytes as they are).
func (o *Options) hardenRequestHandling(cfg *genericapiserver.RecommendedConfig) {
	bodyTimeout := time.Duration(o.RequestBodyTimeout)
	build := cfg.BuildHandlerChainFunc
	if build == nil {
		build = genericapiserver.DefaultBuildHandlerChain
	}
	cfg.BuildHandlerChainFunc = func(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
		// Outermost: the body timeout sets its deadline through the server's own
		// ResponseWriter, and must see the request before the generic request timeout does.
		return filters.WithRequestBodyTimeout(filters.WithUTF8TextBody(build(apiHandler, c)), bodyTimeout)
	}
	if cfg.AdmissionControl == nil {
		cfg.AdmissionControl = validutf8.New()
	} else {
		cfg.AdmissionControl = admission.NewChainHandler(cfg.AdmissionControl, validutf8.New())
	}
}

// applyStandalone applies the options that make sense without a kube-apiserver: no delegated
// authentication or authorization, no admission webhooks, no API priority and fairness (it
// needs the kube API), and the standalone token authenticator and authorizer.
func (o *Options) applyStandalone(cfg *genericapiserver.RecommendedConfig, adminToken string) error {
	r := o.Recommended
	if err := r.Etcd.ApplyTo(&cfg.Config); err != nil {
		return err
	}
	if err := r.SecureServing.ApplyToConfig(&cfg.Config); err != nil {
		return err
	}
	if err := r.Audit.ApplyTo(&cfg.Config); err != nil {
		return err
	}
	r.Features.EnablePriorityAndFairness = false
	if err := r.Features.ApplyTo(&cfg.Config, nil, nil); err != nil {
		return err
	}
	cfg.Authentication.Authenticator = standalone.Authenticator(adminToken)
	authz, err := standalone.Authorizer()
	if err != nil {
		return err
	}
	cfg.Authorization.Authorizer = authz
	return nil
}

// configureOpenAPI sets our OpenAPI definitions, versioned like the binary.
func configureOpenAPI(cfg *genericapiserver.RecommendedConfig) {
	apiserver.ConfigureOpenAPI(cfg, version.Version())
}

// longRunningImports exempts imagestreamimports from the request timeout, as OpenShift does:
// an import fetches from registries, at their pace and within their rate limits.
func longRunningImports(base apirequest.LongRunningRequestCheck) apirequest.LongRunningRequestCheck {
	return func(r *http.Request, info *apirequest.RequestInfo) bool {
		if info != nil && info.IsResourceRequest && info.APIGroup == imagev1.GroupName && info.Resource == "imagestreamimports" && info.Subresource == "" {
			return true
		}
		return base != nil && base(r, info)
	}
}

// automaticImportsElection is the Lease the replicas of an aggregated server compete for, so
// that one at a time runs the automatic imports. It lives in the server's own namespace
// (POD_NAMESPACE, else the ServiceAccount's, else image-system).
func automaticImportsElection(clientConfig *rest.Config) (*leader.Election, error) {
	client, err := kubernetes.NewForConfig(clientConfig)
	if err != nil {
		return nil, err
	}
	namespace := os.Getenv("POD_NAMESPACE")
	if namespace == "" {
		if data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
			namespace = strings.TrimSpace(string(data))
		}
	}
	if namespace == "" {
		namespace = "image-system"
	}
	host, _ := os.Hostname()
	return &leader.Election{Client: client, Namespace: namespace, Name: "image-apiserver-automatic-imports", Identity: host + "_" + string(uuid.NewUUID())}, nil
}
