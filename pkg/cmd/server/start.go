package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/spf13/cobra"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/cmd/migratestorage"
	"github.com/image-apiserver/image-apiserver/pkg/embeddedetcd"
	"github.com/image-apiserver/image-apiserver/pkg/server/gcfloor"
	"github.com/image-apiserver/image-apiserver/pkg/server/memtrim"
	"github.com/image-apiserver/image-apiserver/pkg/standalone"
	"github.com/image-apiserver/image-apiserver/pkg/version"
)

const defaultEmbeddedEtcdTimeout = 60 * time.Second

// defaultRequestBodyTimeout bounds the arrival of a request body. 10 s lets the largest body
// the server accepts (3 MiB) arrive at 2.5 Mbit/s, and an ordinary one (a mapping or a stream
// is a few KiB) over almost any link, and ends a trickled body well before the generic request
// timeout (60 s).
const defaultRequestBodyTimeout = 10 * time.Second

// NewCommand returns the image-apiserver command.
func NewCommand(ctx context.Context) (*cobra.Command, error) {
	o, err := NewOptions()
	if err != nil {
		return nil, err
	}
	var printVersion bool
	cmd := &cobra.Command{
		Use:   "image-apiserver",
		Short: "Serve the OpenShift image.openshift.io/v1 API (ImageStream, Image, ImageStreamMapping) from etcd",
		Long: `image-apiserver serves OpenShift's image.openshift.io/v1 API from etcd.

Standalone (--standalone) it needs nothing else: without --etcd-servers it runs an embedded etcd
under --data-dir, generates its TLS certificate and an admin token, and writes an admin kubeconfig.
Otherwise it runs as an aggregated API server behind a kube-apiserver.

With --storage-layout=openshift it serves an OpenShift cluster's etcd in place, at
openshift-apiserver's keys. "image-apiserver migrate-storage" copies Images and ImageStreams
from one key layout or etcd cluster to another (see its --help).`,
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.Components.Set()
		},
		RunE: func(c *cobra.Command, args []string) error {
			if printVersion {
				fmt.Fprintln(c.OutOrStdout(), version.String())
				return nil
			}
			if len(args) != 0 {
				return fmt.Errorf("unexpected arguments %q: image-apiserver takes only flags", args)
			}
			if err := o.Complete(c.Flags().Changed("bind-address"), c.Flags().Changed("cert-dir")); err != nil {
				return err
			}
			o.CompleteStorageLayout(c.Flags().Changed("etcd-prefix"))
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.AddCommand(migratestorage.NewCommand())
	cmd.SetContext(ctx)
	fss := o.Flags()
	fss.FlagSet("global").BoolVar(&printVersion, "version", false, "Print the version and exit.")
	for _, fs := range fss.FlagSets {
		cmd.Flags().AddFlagSet(fs)
	}
	cols := 100
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		fmt.Fprintf(c.OutOrStderr(), "Usage:\n  %s\n", c.UseLine())
		cliflag.PrintSections(c.OutOrStderr(), fss, cols)
		return nil
	})
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprintf(c.OutOrStdout(), "%s\n\nUsage:\n  %s\n", c.Long, c.UseLine())
		cliflag.PrintSections(c.OutOrStdout(), fss, cols)
	})
	return cmd, nil
}

// Run starts the embedded etcd if needed, then serves until ctx is cancelled, then stops etcd.
func (o *Options) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	if err := o.listenSecurePort(); err != nil {
		return err
	}
	if len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0 {
		etcd, err := embeddedetcd.Start(ctx, filepath.Join(o.DataDir, "etcd"), time.Duration(o.EmbeddedEtcdTimeout))
		if err != nil {
			return err
		}
		// Deferred, so etcd stops only after the server has drained its requests.
		defer func() {
			etcd.Close()
			logger.Info("Stopped embedded etcd")
		}()
		o.Recommended.Etcd.StorageConfig.Transport.ServerList = []string{etcd.ClientURL()}
		logger.Info("Started embedded etcd", "dataDir", filepath.Join(o.DataDir, "etcd"), "url", etcd.ClientURL())
	}

	prefix := o.Recommended.Etcd.StorageConfig.Prefix
	logger.Info("Storage layout", "layout", string(o.StorageLayout),
		"images", o.StorageLayout.Root(prefix, imagev1.Resource("images")),
		"imagestreams", o.StorageLayout.Root(prefix, imagev1.Resource("imagestreams")))

	var adminToken string
	if o.Standalone {
		var err error
		if adminToken, err = standalone.LoadOrCreateToken(filepath.Join(o.DataDir, "admin-token")); err != nil {
			return err
		}
	}
	config, err := o.Config(adminToken)
	if err != nil {
		return err
	}
	server, err := config.Complete().New()
	if err != nil {
		return err
	}
	if o.Standalone && o.WriteKubeconfig != "" {
		if err := o.writeKubeconfig(adminToken); err != nil {
			return err
		}
	}
	// Collect rarely while the heap is small, keep a large heap within a bound of its live
	// objects, and return the heap's slack to the system once the server is quiet (after a
	// burst of pushes, say).
	defer gcfloor.Start(uint64(o.GCHeapFloor), uint64(o.GCMaxHeapSlack)).Stop()
	go memtrim.Run(ctx, memtrim.DefaultInterval)
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// listenSecurePort binds the serving port before anything else starts, so that a port taken
// by someone else fails the start at once, before the embedded etcd is started for nothing.
// With port or address sharing the generic options bind it later, with their socket options.
func (o *Options) listenSecurePort() error {
	ss := o.Recommended.SecureServing
	if ss.Listener != nil || ss.PermitPortSharing || ss.PermitAddressSharing {
		return nil
	}
	addr := net.JoinHostPort(ss.BindAddress.String(), strconv.Itoa(ss.BindPort))
	listener, port, err := genericoptions.CreateListener(ss.BindNetwork, addr, net.ListenConfig{})
	if err != nil {
		return fmt.Errorf("failed to create listener: %w", err)
	}
	ss.Listener, ss.BindPort = listener, port
	return nil
}

// writeKubeconfig writes the admin kubeconfig pointing at the serving address.
func (o *Options) writeKubeconfig(adminToken string) error {
	ss := o.Recommended.SecureServing
	host := ss.BindAddress.String()
	if ss.BindAddress.IsUnspecified() {
		host = "127.0.0.1"
	}
	port := ss.BindPort
	if ss.Listener != nil {
		port = ss.Listener.Addr().(*net.TCPAddr).Port
	}
	server := "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	if err := standalone.WriteKubeconfig(o.WriteKubeconfig, server, ss.ServerCert.CertKey.CertFile, adminToken); err != nil {
		return err
	}
	klog.Background().Info("Wrote admin kubeconfig", "path", o.WriteKubeconfig, "server", server)
	return nil
}
