package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version prints the module version of the binary and the Go version that
// built it. The module version is "(devel)" for a binary built from a
// checkout without version control information.
func version(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	v := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	_, err := fmt.Fprintf(stdout, "samsa %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
