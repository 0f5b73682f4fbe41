package runtime

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOpts returns the options of a Kafka client of the App: first what
// every client shares (the seed brokers, TLS and SASL, the logger), then
// the role's own options, then Config.ClientOptions, which win. Every
// client the App makes is built from it, so none connects without the
// configured security.
func (a *App) clientOpts(role ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(a.cfg.Bootstrap...),
		kgo.WithLogger(kslog{a.log}),
	}
	if a.cfg.TLS != nil {
		// franz-go sets ServerName per broker when the config has none.
		opts = append(opts, kgo.DialTLSConfig(a.cfg.TLS.Clone()))
	}
	if a.cfg.SASL != nil {
		opts = append(opts, kgo.SASL(a.cfg.SASL))
	}
	opts = append(opts, role...)
	return append(opts, a.cfg.ClientOptions...)
}

// newClient returns a Kafka client built from clientOpts.
func (a *App) newClient(role ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(a.clientOpts(role...)...)
}

// newChangelogClient returns the client of the changelog reader
// (changelog.Reader), which restores stores and tails the standbys'
// changelogs: read_committed, keeping the control records (their offsets
// count in the changelog positions). The App closes it (closeClients): the
// reader never does.
func (a *App) newChangelogClient(fetch []kgo.Opt) (*kgo.Client, error) {
	return a.newClient(append([]kgo.Opt{
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}, fetch...)...)
}

// ErrNotAuthorized is wrapped when the brokers refuse the application's
// principal an operation (an ACL is missing) or its authentication:
// retrying cannot help.
var ErrNotAuthorized = errors.New("samsa: not authorized by the brokers")

// notAuthorized are the errors that end Run when a fetch reports them.
var notAuthorized = []error{
	kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.SaslAuthenticationFailed,
}

// refused returns the error that ends Run when the fetch error says the
// brokers refused the principal (group, topic, transactional id, cluster
// ACLs or authentication), naming what was refused; nil otherwise. The
// consumer would otherwise retry it forever.
func refused(group string, fe kgo.FetchError) error {
	for _, e := range notAuthorized {
		if !errors.Is(fe.Err, e) {
			continue
		}
		if fe.Topic == "" {
			return fmt.Errorf("%w: consumer group %q: %w", ErrNotAuthorized, group, fe.Err)
		}
		return fmt.Errorf("%w: topic %q partition %d: %w", ErrNotAuthorized, fe.Topic, fe.Partition, fe.Err)
	}
	return nil
}
