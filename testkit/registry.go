package testkit

import (
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// SchemaRegistry starts an in-memory Confluent Schema Registry (franz-go's
// srfake) for the test and returns a client for it. It accepts every schema
// as compatible: compatibility rules cannot be tested against it.
func SchemaRegistry(t testing.TB) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}
