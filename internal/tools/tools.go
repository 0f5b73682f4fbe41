//go:build tools

// Package tools pins modules that the design chose but that no package
// imports yet (Avro with the Schema Registry), so go mod tidy keeps them.
package tools

import (
	_ "github.com/linkedin/goavro/v2"
	_ "github.com/twmb/franz-go/pkg/sr"
)
