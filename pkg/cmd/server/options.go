// Package server holds the image-apiserver command: its flags, their validation and the
// configuration they produce.
package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	cliflag "k8s.io/component-base/cli/flag"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	kubeversion "k8s.io/component-base/version"
	netutils "k8s.io/utils/net"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/standalone"
	"github.com/image-apiserver/image-apiserver/pkg/version"
)

// etcdPrefix is the key prefix; the storage factory appends <group>/<resource>, giving
// /registry/image.openshift.io/imagestreams/<ns>/<name> (ARCHITECTURE.md §0 rule 6).
const etcdPrefix = "/registry"

// Options are all the flags of image-apiserver.
type Options struct {
	// Components holds the effective version (--emulated-version) and the feature gates
	// (--feature-gates) of the Kubernetes libraries; see newComponentGlobals.
	Components  basecompatibility.ComponentGlobalsRegistry
	Recommended *genericoptions.RecommendedOptions
	ServerRun   *genericoptions.ServerRunOptions
	Logs        *logsapi.LoggingConfiguration

	// Standalone runs without Kubernetes: own TLS, generated admin token (decisions.md D10).
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
	// EmbeddedEtcdTimeout bounds how long the embedded etcd may take to start.
	EmbeddedEtcdTimeout durationFlag
}

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
		DataDir:             "image-apiserver.local.data",
		EmbeddedEtcdTimeout: durationFlag(defaultEmbeddedEtcdTimeout),
		MaxImageStreamBytes: imagestreammapping.DefaultMaxImageStreamBytes,
	}
	o.Recommended.Etcd.StorageConfig.EncodeVersioner = versioner
	o.Recommended.SecureServing.BindPort = 8443
	o.Recommended.SecureServing.ServerCert.PairName = "image-apiserver"
	// Aggregated servers behind one kube-apiserver multiplex many requests on one connection.
	o.Recommended.SecureServing.HTTP2MaxStreamsPerConnection = 1000
	return o, nil
}

// Flags returns the named flag sets, printed in sections by --help.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("image-apiserver")
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone, "Run without Kubernetes: generate a serving certificate and an admin token under --data-dir, accept only that token, and write an admin kubeconfig to --write-kubeconfig. Without it the server runs aggregated behind a kube-apiserver with delegated authentication and authorization.")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for the embedded etcd data (used when --etcd-servers is empty) and, with --standalone, the serving certificate and admin token.")
	fs.StringVar(&o.WriteKubeconfig, "write-kubeconfig", o.WriteKubeconfig, "With --standalone: write an admin kubeconfig for this server to this file.")
	fs.StringVar(&o.RegistryHostname, "registry-hostname", o.RegistryHostname, "Internal registry host[:port]: image streams report <host>/<namespace>/<name> as status.dockerImageRepository.")
	fs.StringVar(&o.PublicRegistryHostname, "public-registry-hostname", o.PublicRegistryHostname, "Public registry host[:port]: image streams report <host>/<namespace>/<name> as status.publicDockerImageRepository.")
	fs.IntVar(&o.MaxImageStreamBytes, "max-imagestream-bytes", o.MaxImageStreamBytes, "Largest size in bytes a stored image stream may reach through an ImageStreamMapping; a mapping that would exceed it gets 413 and writes nothing. Keep it under etcd's --max-request-bytes (1.5 MiB by default).")
	fs.Var(&o.EmbeddedEtcdTimeout, "embedded-etcd-start-timeout", "How long the embedded etcd may take to start.")

	o.Recommended.AddFlags(fss.FlagSet("generic"))
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

// Complete fills in defaults that depend on other flags. bindAddressSet and certDirSet say
// whether --bind-address and --cert-dir were given.
func (o *Options) Complete(bindAddressSet, certDirSet bool) error {
	if o.Standalone && !bindAddressSet {
		// A standalone server has no network policy in front of it: listen on loopback unless
		// told otherwise.
		o.Recommended.SecureServing.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
	}
	if !certDirSet && o.DataDir != "" {
		// Keep generated certificates with the rest of the server's state, so that a restart
		// reuses them and kubeconfigs stay valid.
		o.Recommended.SecureServing.ServerCert.CertDirectory = filepath.Join(o.DataDir, "certs")
	}
	return o.ServerRun.DefaultAdvertiseAddress(o.Recommended.SecureServing.SecureServingOptions)
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
	if o.DataDir == "" && len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0 {
		errs = append(errs, fmt.Errorf("--data-dir is required for the embedded etcd when --etcd-servers is empty"))
	}
	if o.Standalone && o.DataDir == "" {
		errs = append(errs, fmt.Errorf("--data-dir is required with --standalone: it holds the serving certificate and admin token"))
	}
	for flag, host := range map[string]string{"--registry-hostname": o.RegistryHostname, "--public-registry-hostname": o.PublicRegistryHostname} {
		if err := validateHostname(host); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	if err := logsapi.ValidateAndApply(o.Logs, nil); err != nil {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

// validateHostname accepts host or host:port with nothing else.
func validateHostname(host string) error {
	if host == "" {
		return nil
	}
	h := host
	if strings.Contains(host, ":") {
		var port string
		var err error
		if h, port, err = net.SplitHostPort(host); err != nil || port == "" {
			return fmt.Errorf("%q is not host[:port]", host)
		}
	}
	if h == "" || strings.ContainsAny(h, "/@ ") {
		return fmt.Errorf("%q is not host[:port]", host)
	}
	return nil
}

// Config builds the server configuration. adminToken is only used standalone.
func (o *Options) Config(adminToken string) (*apiserver.Config, error) {
	ip := netutils.ParseIPSloppy("127.0.0.1")
	// The aggregator connects to <service>.<namespace>.svc; the default service name of the
	// manifests is included so that a generated certificate works there too.
	alternateDNS := []string{"api.image-system.svc", "api.image-system.svc.cluster.local"}
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", alternateDNS, []net.IP{ip}); err != nil {
		return nil, fmt.Errorf("creating a self-signed serving certificate: %w", err)
	}
	if o.Standalone {
		// The generated certificate is written world-readable; like the key and the token it is
		// server state that only the server's user needs.
		if err := os.Chmod(o.Recommended.SecureServing.ServerCert.CertKey.CertFile, 0o600); err != nil {
			return nil, err
		}
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
	return &apiserver.Config{
		GenericConfig: cfg,
		ExtraConfig: apiserver.ExtraConfig{
			RegistryHostnames:   imagestream.RegistryHostnames{Internal: o.RegistryHostname, Public: o.PublicRegistryHostname},
			MaxImageStreamBytes: o.MaxImageStreamBytes,
		},
	}, nil
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
