// Package migratestorage is the migrate-storage command of image-apiserver: its flags, and the etcd
// clients they describe.
package migratestorage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/image-apiserver/image-apiserver/pkg/migrate"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// side is the flags of one end of the migration.
type side struct {
	layout  layout.Layout
	servers []string
	prefix  string
	caFile  string
	cert    string
	key     string
}

func (s *side) addFlags(cmd *cobra.Command, name, what string) {
	fs := cmd.Flags()
	fs.Var(&s.layout, name+"-layout", "Layout of the "+what+": default (this server's keys, <prefix>/image.openshift.io/images/...) or openshift (openshift-apiserver's keys, <prefix>/images/...). Required.")
	fs.StringSliceVar(&s.servers, name+"-etcd-servers", nil, "etcd client URLs of the "+what+", comma-separated.")
	fs.StringVar(&s.prefix, name+"-etcd-prefix", "", "etcd prefix of the "+what+" (the server's --etcd-prefix); default /registry for the default layout, /openshift.io for openshift.")
	fs.StringVar(&s.caFile, name+"-etcd-cafile", "", "CA bundle that verifies the "+what+" etcd's serving certificate.")
	fs.StringVar(&s.cert, name+"-etcd-certfile", "", "Client certificate for the "+what+" etcd.")
	fs.StringVar(&s.key, name+"-etcd-keyfile", "", "Private key of --"+name+"-etcd-certfile.")
}

func (s *side) transport() storagebackend.TransportConfig {
	return storagebackend.TransportConfig{ServerList: s.servers, TrustedCAFile: s.caFile, CertFile: s.cert, KeyFile: s.key}
}

type options struct {
	from, to side
	migrate.Options
}

// NewCommand returns the migrate-storage command.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "migrate-storage --from-layout=L --from-etcd-servers=URLS --to-layout=L [--to-etcd-servers=URLS] [flags]",
		Short: "Copy Images and ImageStreams from one etcd key layout or cluster to another",
		Long: `migrate-storage copies every Image and ImageStream from one etcd key layout to another:
from openshift-apiserver's (/openshift.io/images/<name>, /openshift.io/imagestreams/<ns>/<name>)
to this server's default (/registry/image.openshift.io/images/<name>, ...), or back, within one
etcd cluster or into another one.

Values are copied byte for byte: both servers store the same protobuf. Each is decoded first;
one that does not decode as the object its key names is reported and not copied. A key absent
from the destination is created; an identical one is left alone; a different one is reported
and left alone unless --overwrite is given. The source is never written to. Keys are read in
pages of --page-size and written in transactions of at most --txn-max-ops keys and
--txn-max-bytes bytes.

Running it again is safe and resumes an interrupted run (what was copied is identical);
--resume-after=<the last key of a progress line> skips reading what was done. --dry-run reads
both sides, counts what a run would do and writes nothing.

At the end both sides are counted. The command fails (exit status 1) if any value was invalid,
any destination value differs and was left alone, or the counts differ: stop the writers of the
source (openshift-apiserver, or this server) before the final run.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), c)
		},
	}
	fs := cmd.Flags()
	o.from.addFlags(cmd, "from", "source")
	o.to.addFlags(cmd, "to", "destination")
	fs.Lookup("to-etcd-servers").Usage = "etcd client URLs of the destination, comma-separated. Default: the source's cluster, reached with the --from-etcd-* TLS files."
	fs.Int64Var(&o.PageSize, "page-size", migrate.DefaultPageSize, "Keys read from the source per request.")
	fs.IntVar(&o.TxnMaxOps, "txn-max-ops", migrate.DefaultTxnMaxOps, "Most keys written per transaction; keep it at or below the destination etcd's --max-txn-ops (128 by default).")
	fs.IntVar(&o.TxnMaxBytes, "txn-max-bytes", migrate.DefaultTxnMaxBytes, "Most bytes of keys and values written per transaction (a larger single value is written alone); keep it below the destination etcd's --max-request-bytes (1.5 MiB by default).")
	fs.BoolVar(&o.DryRun, "dry-run", false, "Read both sides and count what would be copied; write nothing.")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "Replace destination values that differ from the source's. Without it they are reported and left alone, and the command fails.")
	fs.StringVar(&o.ResumeAfter, "resume-after", "", "Skip every source key up to and including this one, as printed at the end of a progress line: resumes an interrupted run without reading again what it handled.")
	fs.DurationVar(&o.RequestTimeout, "etcd-request-timeout", migrate.DefaultRequestTimeout, "Bound of each etcd request.")
	for _, name := range []string{"from-layout", "from-etcd-servers", "to-layout"} {
		_ = cmd.MarkFlagRequired(name)
	}
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprintf(c.OutOrStdout(), "%s\n\nUsage:\n  %s\n\nFlags:\n%s", c.Long, c.UseLine(), c.LocalFlags().FlagUsagesWrapped(100))
	})
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		fmt.Fprintf(c.OutOrStderr(), "Usage:\n  %s\n\nFlags:\n%s", c.UseLine(), c.LocalFlags().FlagUsagesWrapped(100))
		return nil
	})
	return cmd
}

// validate checks the flags that NewCommand cannot express.
func (o *options) validate() error {
	var errs []string
	for _, s := range []struct {
		name string
		side *side
	}{{"from", &o.from}, {"to", &o.to}} {
		if (s.side.cert == "") != (s.side.key == "") {
			errs = append(errs, fmt.Sprintf("--%[1]s-etcd-certfile and --%[1]s-etcd-keyfile go together", s.name))
		}
		for _, url := range s.side.servers {
			if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "unix://") {
				errs = append(errs, fmt.Sprintf("--%s-etcd-servers: %q is not an http://, https:// or unix:// URL", s.name, url))
			}
		}
	}
	if len(o.to.servers) == 0 && (o.to.caFile != "" || o.to.cert != "" || o.to.key != "") {
		errs = append(errs, "--to-etcd-cafile, --to-etcd-certfile and --to-etcd-keyfile need --to-etcd-servers (without it the destination is the source's cluster, reached as the source is)")
	}
	if o.PageSize < 1 || o.TxnMaxOps < 1 || o.TxnMaxBytes < 1 || o.RequestTimeout <= 0 {
		errs = append(errs, "--page-size, --txn-max-ops, --txn-max-bytes and --etcd-request-timeout must be positive")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (o *options) run(ctx context.Context, c *cobra.Command) error {
	if err := o.validate(); err != nil {
		return err
	}
	to := o.to
	if len(to.servers) == 0 {
		to.servers, to.caFile, to.cert, to.key = slices.Clone(o.from.servers), o.from.caFile, o.from.cert, o.from.key
	}
	src, err := txn.NewClient(ctx, o.from.transport())
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer func() { _ = src.Close() }()
	dst, err := txn.NewClient(ctx, to.transport())
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer func() { _ = dst.Close() }()

	opts := o.Options
	opts.Source = endpoint(src, o.from)
	opts.Destination = endpoint(dst, to)
	out := c.OutOrStdout()
	opts.Progress = out
	if o.DryRun {
		fmt.Fprintln(out, "Dry run: nothing is written.")
	}
	report, err := migrate.Run(ctx, opts)
	if report != nil {
		report.Print(out)
	}
	if err != nil {
		if report != nil && report.LastKey != "" {
			return fmt.Errorf("%w (everything up to %s is handled: run again, or with --resume-after=%s to skip reading it)", err, report.LastKey, report.LastKey)
		}
		return err
	}
	if err := report.Err(); err != nil {
		return err
	}
	if o.DryRun {
		fmt.Fprintln(out, "Dry run complete: nothing was written.")
	} else {
		fmt.Fprintln(out, "Migration complete: the destination holds every source object, and the counts agree.")
	}
	return nil
}

func endpoint(c *clientv3.Client, s side) migrate.Endpoint {
	return migrate.Endpoint{Client: c, Layout: s.layout, Prefix: s.prefix}
}
