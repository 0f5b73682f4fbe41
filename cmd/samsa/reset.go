package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streams/samsa/changelog"
)

// resetInput is what `samsa reset` is told to do.
type resetInput struct {
	AppID     string
	Bootstrap []string
	// Inputs are the input topics to rewind; empty: every topic the group
	// has committed offsets on, internal topics excepted.
	Inputs []string
	// Exactly one way of choosing the new offsets.
	ToEarliest bool
	ToLatest   bool
	ToDatetime time.Time // zero: not set
	ByDuration time.Duration
	ShiftBy    int64
	StateDir   string
	DryRun     bool
}

// internalTopic reports whether topic is one of appID's changelog or
// repartition topics, as samsa (and Kafka Streams) name them: a foreign-key
// join's repartition topics end in -subscription-registration-topic and
// -subscription-response-topic.
func internalTopic(appID, topic string) bool {
	return strings.HasPrefix(topic, appID+"-") &&
		(strings.HasSuffix(topic, "-changelog") || strings.HasSuffix(topic, "-repartition") ||
			strings.HasSuffix(topic, "-subscription-registration-topic") || strings.HasSuffix(topic, "-subscription-response-topic"))
}

// reset is `samsa reset`: Kafka Streams' application reset tool.
func reset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reset", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: samsa reset --application-id ID --bootstrap host:port [flags]

Resets an application to process its input again, as Kafka Streams'
application reset tool: rewinds the group's committed offsets on its input
topics, deletes its internal topics (<id>-…-changelog, <id>-…-repartition,
and a foreign-key join's <id>-…-subscription-registration-topic and
<id>-…-subscription-response-topic) and the committed offsets on them,
and deletes the local state directory. Every instance must be stopped
first: reset refuses while the group has active members. Output topics are
not touched.

flags:
`)
		fs.PrintDefaults()
	}
	appID := fs.String("application-id", "", "the application id (Config.ApplicationID; also the group id); required")
	bootstrap := fs.String("bootstrap", "", "the Kafka cluster, host:port[,host:port…]; required")
	inputs := fs.String("input-topics", "", "comma-separated input topics to rewind (default: every topic with committed offsets, internal topics excepted)")
	toEarliest := fs.Bool("to-earliest", false, "rewind to the earliest offsets (the default)")
	toLatest := fs.Bool("to-latest", false, "move to the latest offsets: skip everything not yet processed")
	toDatetime := fs.String("to-datetime", "", "move to the first offsets at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
	byDuration := fs.Duration("by-duration", 0, "move to the first offsets at or after now minus this duration (e.g. 1h)")
	shiftBy := fs.Int64("shift-by", 0, "move the committed offsets by this many records (negative: back), within the partition's bounds")
	stateDir := fs.String("state-dir", "", "the state directory to delete (Config.StateDir; default "+filepath.Join(os.TempDir(), "samsa", "<application id>")+")")
	dryRun := fs.Bool("dry-run", false, "print what would be done and change nothing")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	in := resetInput{AppID: *appID, ToEarliest: *toEarliest, ToLatest: *toLatest, ByDuration: *byDuration,
		ShiftBy: *shiftBy, StateDir: *stateDir, DryRun: *dryRun}
	var problems []string
	if in.AppID == "" {
		problems = append(problems, "--application-id is required")
	}
	if *bootstrap == "" {
		problems = append(problems, "--bootstrap is required")
	} else {
		in.Bootstrap = strings.Split(*bootstrap, ",")
	}
	for _, t := range strings.Split(*inputs, ",") {
		if t = strings.TrimSpace(t); t != "" {
			in.Inputs = append(in.Inputs, t)
		}
	}
	if *toDatetime != "" {
		t, err := time.Parse(time.RFC3339, *toDatetime)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--to-datetime %q is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)", *toDatetime))
		}
		in.ToDatetime = t
	}
	if in.ByDuration < 0 {
		problems = append(problems, "--by-duration must be positive")
	}
	modes := 0
	for _, set := range []bool{in.ToEarliest, in.ToLatest, *toDatetime != "", in.ByDuration != 0, in.ShiftBy != 0} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		problems = append(problems, "give at most one of --to-earliest, --to-latest, --to-datetime, --by-duration, --shift-by")
	}
	if modes == 0 {
		in.ToEarliest = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: reset: %s", errUsage, strings.Join(problems, "; "))
	}
	if in.StateDir == "" {
		in.StateDir = filepath.Join(os.TempDir(), "samsa", in.AppID)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return runReset(ctx, in, stdout)
}

// runReset carries a reset out (or prints it, with DryRun).
func runReset(ctx context.Context, in resetInput, stdout io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.Bootstrap...))
	if err != nil {
		return fmt.Errorf("reset: kafka client for %v: %w", in.Bootstrap, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	would := ""
	if in.DryRun {
		would = "would "
	}

	// 1. No instance may be running.
	groups, err := adm.DescribeGroups(ctx, in.AppID)
	if err != nil {
		return fmt.Errorf("reset: describe group %q at %v: %w", in.AppID, in.Bootstrap, err)
	}
	g := groups[in.AppID]
	if g.Err != nil {
		return fmt.Errorf("reset: describe group %q: %w", in.AppID, g.Err)
	}
	if n := len(g.Members); n > 0 {
		var who []string
		for _, m := range g.Members {
			who = append(who, m.ClientID+"@"+m.ClientHost)
		}
		return fmt.Errorf("reset: group %q has %d active members (%s): stop every instance of the application first", in.AppID, n, strings.Join(who, ", "))
	}
	fmt.Fprintf(stdout, "group %q: no active members (state %s)\n", in.AppID, g.State)

	// 2. Which topics: internal ones to delete, input ones to rewind.
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("reset: list topics: %w", err)
	}
	var internal []string
	for _, t := range listed.Names() {
		if internalTopic(in.AppID, t) {
			internal = append(internal, t)
		}
	}
	committed, err := adm.FetchOffsets(ctx, in.AppID)
	if err != nil {
		return fmt.Errorf("reset: committed offsets of group %q: %w", in.AppID, err)
	}
	if err := committed.Error(); err != nil {
		return fmt.Errorf("reset: committed offsets of group %q: %w", in.AppID, err)
	}
	inputs := in.Inputs
	if len(inputs) == 0 {
		for t := range committed {
			if !internalTopic(in.AppID, t) {
				inputs = append(inputs, t)
			}
		}
	}
	sort.Strings(inputs)
	for _, t := range inputs {
		if _, ok := listed[t]; !ok {
			return fmt.Errorf("reset: input topic %q does not exist", t)
		}
		if internalTopic(in.AppID, t) {
			return fmt.Errorf("reset: %q is an internal topic of %q: it is deleted, not rewound; give only input topics", t, in.AppID)
		}
	}

	// 3. New offsets for the inputs.
	target, err := resetOffsets(ctx, adm, in, inputs, committed)
	if err != nil {
		return err
	}
	var internalCommitted []string
	for t := range committed {
		if internalTopic(in.AppID, t) {
			internalCommitted = append(internalCommitted, t)
		}
	}
	sort.Strings(internalCommitted)

	// 4. Print, then do.
	if len(inputs) == 0 {
		fmt.Fprintln(stdout, "no input topics: the group has no committed offsets (nothing to rewind)")
	}
	for _, o := range target.Sorted() {
		from := "none"
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok {
			from = fmt.Sprint(c.At)
		}
		fmt.Fprintf(stdout, "%sset offset of input topic %q partition %d: %s -> %d\n", would, o.Topic, o.Partition, from, o.At)
	}
	for _, t := range internalCommitted {
		fmt.Fprintf(stdout, "%sdelete the committed offsets on internal topic %q\n", would, t)
	}
	for _, t := range internal {
		fmt.Fprintf(stdout, "%sdelete internal topic %q\n", would, t)
	}
	eng, hasState, err := localState(in)
	if err != nil {
		return err
	}
	if eng != nil {
		defer eng.Close()
	}
	if hasState {
		fmt.Fprintf(stdout, "%sdelete local state in %s\n", would, in.StateDir)
	} else {
		fmt.Fprintf(stdout, "no local state in %s\n", in.StateDir)
	}
	if in.DryRun {
		fmt.Fprintln(stdout, "dry run: nothing changed")
		return nil
	}

	if len(target) > 0 {
		resp, err := adm.CommitOffsets(ctx, in.AppID, target)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: commit offsets for group %q: %w", in.AppID, err)
		}
	}
	if len(internalCommitted) > 0 {
		set := kadm.TopicsSet{}
		for _, t := range internalCommitted {
			for p := range committed[t] {
				set.Add(t, p)
			}
		}
		resp, err := adm.DeleteOffsets(ctx, in.AppID, set)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: delete the committed offsets of group %q on %s: %w", in.AppID, strings.Join(internalCommitted, ", "), err)
		}
	}
	if len(internal) > 0 {
		resp, err := adm.DeleteTopics(ctx, internal...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: delete internal topics %s: %w", strings.Join(internal, ", "), err)
		}
	}
	if hasState {
		if err := eng.WipeAll(); err != nil {
			return fmt.Errorf("reset: delete local state: %w", err)
		}
	}
	fmt.Fprintf(stdout, "reset %q: done\n", in.AppID)
	return nil
}

// localState opens the state directory to check that it is the
// application's and that no instance has it open; the engine returned
// (nil when there is no state) keeps it locked until closed.
func localState(in resetInput) (*changelog.Engine, bool, error) {
	if _, err := os.Stat(filepath.Join(in.StateDir, "pebble")); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	eng, err := changelog.NewEngine(changelog.Options{Dir: in.StateDir, ApplicationID: in.AppID})
	if err != nil {
		return nil, false, fmt.Errorf("reset: state directory %s: %w", in.StateDir, err)
	}
	if err := eng.CheckDir(); err != nil {
		_ = eng.Close()
		switch {
		case errors.Is(err, changelog.ErrLocked):
			return nil, false, fmt.Errorf("reset: state directory %s is in use by a running instance: stop it first: %w", in.StateDir, err)
		case errors.Is(err, changelog.ErrForeignState):
			return nil, false, fmt.Errorf("reset: state directory %s belongs to another application: give --state-dir: %w", in.StateDir, err)
		}
		return nil, false, fmt.Errorf("reset: state directory %s: %w", in.StateDir, err)
	}
	return eng, true, nil
}

// resetOffsets computes the new committed offset of every partition of the
// input topics.
func resetOffsets(ctx context.Context, adm *kadm.Client, in resetInput, inputs []string, committed kadm.OffsetResponses) (kadm.Offsets, error) {
	out := kadm.Offsets{}
	if len(inputs) == 0 {
		return out, nil
	}
	listed := func(what string, list func() (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		l, err := list()
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("reset: %s offsets of %s: %w", what, strings.Join(inputs, ", "), err)
		}
		return l, nil
	}
	starts, err := listed("start", func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, inputs...) })
	if err != nil {
		return nil, err
	}
	ends, err := listed("end", func() (kadm.ListedOffsets, error) { return adm.ListEndOffsets(ctx, inputs...) })
	if err != nil {
		return nil, err
	}
	var at kadm.ListedOffsets
	since := in.ToDatetime
	if in.ByDuration > 0 {
		since = time.Now().Add(-in.ByDuration)
	}
	if !since.IsZero() {
		at, err = listed("time", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), inputs...)
		})
		if err != nil {
			return nil, err
		}
	}
	starts.Each(func(s kadm.ListedOffset) {
		end, _ := ends.Lookup(s.Topic, s.Partition)
		var to int64
		switch {
		case in.ToLatest:
			to = end.Offset
		case at != nil:
			to = end.Offset
			if a, ok := at.Lookup(s.Topic, s.Partition); ok && a.Offset >= 0 {
				to = a.Offset
			}
		case in.ShiftBy != 0:
			to = s.Offset
			if c, ok := committed.Lookup(s.Topic, s.Partition); ok && c.Err == nil && c.At >= 0 {
				to = c.At + in.ShiftBy
			}
		default:
			to = s.Offset
		}
		to = max(s.Offset, min(to, end.Offset))
		out.Add(kadm.Offset{Topic: s.Topic, Partition: s.Partition, At: to, LeaderEpoch: -1})
	})
	return out, nil
}
