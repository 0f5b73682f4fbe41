package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// buildStreams builds the Kafka Streams contender (bench/streams) with
// Maven unless its jar is newer than the pom and every source, and returns
// the jar's path.
func buildStreams(ctx context.Context, root string, log *slog.Logger) (string, error) {
	dir := filepath.Join(root, "bench", "streams")
	jar := filepath.Join(dir, "target", "bench-streams.jar")
	if st, err := os.Stat(jar); err == nil && !newerThan(dir, st.ModTime()) {
		return jar, nil
	}
	log.Info("building the Kafka Streams contender", "cmd", "mvn -q -B package", "dir", dir)
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "package")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mvn package in %s (Java 17+ and Maven are needed; -no-streams skips Kafka Streams): %w\n%s", dir, err, out)
	}
	return jar, nil
}

// newerThan reports whether the pom or a file under src is newer than t.
func newerThan(dir string, t time.Time) bool {
	newer := false
	check := func(p string) {
		if st, err := os.Stat(p); err == nil && st.ModTime().After(t) {
			newer = true
		}
	}
	check(filepath.Join(dir, "pom.xml"))
	_ = filepath.WalkDir(filepath.Join(dir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			check(p)
		}
		return nil
	})
	return newer
}

// javaCmd runs the Kafka Streams contender from jar with the JVM's
// defaults.
func javaCmd(jar, bootstrap string) func(*scenario, runSpec) *exec.Cmd {
	return func(s *scenario, rs runSpec) *exec.Cmd {
		args := append([]string{"-jar", jar}, contenderArgs(s, rs, bootstrap)...)
		return exec.Command("java", append(args, "-state", rs.StateDir)...)
	}
}
