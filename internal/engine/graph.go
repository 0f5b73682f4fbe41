// Package engine holds samsa's runtime graph: the type-erased node
// definitions a topology compiles to, the typed node instances that a task
// wires together, and the task that runs them. It knows nothing of Kafka
// clients: records come in as *kgo.Record and go out through an Output.
package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/samsa-streams/samsa/processor"
)

// Kind is the kind of a node.
type Kind int

// Node kinds.
const (
	KindSource Kind = iota
	KindProcessor
	KindSink
)

// Node is a node definition: a name, its place in the graph and a factory
// for its per-task instance.
type Node struct {
	Name     string
	Kind     Kind
	Parents  []string
	Children []string
	// Topics read by a source node.
	Topics []string
	// Topic written by a sink node with a fixed topic ("" if chosen per record).
	Topic string
	// Stores connected to a processor node.
	Stores []string
	// Globals are the global stores connected to a processor node (from
	// Graph.Globals): read-only, shared by every task.
	Globals []string
	// Make creates a fresh instance for a task.
	Make func() Instance
	// Describe extra for sinks with a topic function.
	TopicFuncName string
	// Internal names the repartition topic a sink writes or a source reads,
	// <application id>-<Internal>-repartition once the app id is known.
	Internal string
	// SideTopics are topics a processor node writes input records to
	// directly, not through a sink (a windowed aggregation's late-records
	// topic): like a fixed sink topic, each must exist at startup.
	SideTopics []string
	// Partitions, on the sink of a repartition topic, fixes the topic's
	// partition count (Kafka Streams' Repartitioned.withNumberOfPartitions);
	// 0 lets RepartitionPartitions choose it.
	Partitions int32
}

// StoreDef defines a key-value state store.
type StoreDef struct {
	Name string
	// Processors the store is connected to.
	Processors []string
	// Logged stores write a changelog topic.
	Logged bool
	// Retention, when set, makes the changelog compact,delete with this
	// retention (window and session stores) instead of compact.
	Retention time.Duration
	// Layout is how the store keeps its entries; the window and session
	// layouts keep Retention, cut into Segments (at least 2).
	Layout   StoreLayout
	Segments int
	// Wrap turns the opened store into the typed store processors see.
	Wrap func(s Opened) processor.StateStore
	// Uncached turns the record cache off for the store (its cached
	// operators write and forward every update at once).
	Uncached bool
}

// GlobalDef defines a global store, as Kafka Streams' global state store
// behind a GlobalKTable: it holds the whole of Topic (every partition), is
// filled before any task processes and kept up to date as Topic grows, and
// is read by the processors it is connected to in every task. It belongs to
// no sub-topology and has no changelog: Topic is its changelog.
type GlobalDef struct {
	Name string
	// Topic is read into the store; no source of the topology reads it.
	Topic string
	// Processors the store is connected to.
	Processors []string
	// Update applies one record of Topic to the store as read (key and
	// value as raw bytes, nil for null).
	Update func(raw processor.BytesKeyValueStore, key, value []byte, ts time.Time) error
	// Wrap turns the raw bytes store into the read-only typed store
	// processors see.
	Wrap func(raw processor.BytesKeyValueStore) processor.StateStore
}

// RawStore is a bytes store as a task manages it: the processor-facing
// operations plus the hooks the commit protocol drives.
type RawStore interface {
	processor.BytesKeyValueStore
	// Flush makes the writes since the last commit durable.
	Flush() error
	// Abort drops the writes since the last commit.
	Abort()
	// Close releases the store.
	Close() error
}

// StoreProvider opens the stores of a task, with their layout: the
// changelog package's stores, on disk or in memory.
type StoreProvider interface {
	Open(task processor.TaskID, def *StoreDef) (Opened, error)
}

// Graph is a whole topology: nodes in insertion order, stores, and the
// errors recorded while it was built.
type Graph struct {
	Nodes  []*Node
	byName map[string]*Node
	Stores map[string]*StoreDef
	// Globals are the global stores, by name.
	Globals map[string]*GlobalDef
	errs    []error
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{byName: map[string]*Node{}, Stores: map[string]*StoreDef{}, Globals: map[string]*GlobalDef{}}
}

// Errorf records a build error.
func (g *Graph) Errorf(format string, args ...any) {
	g.errs = append(g.errs, fmt.Errorf(format, args...))
}

// Node returns the node with the given name.
func (g *Graph) Node(name string) (*Node, bool) {
	n, ok := g.byName[name]
	return n, ok
}

// Add adds a node, recording an error for a duplicate or empty name.
func (g *Graph) Add(n *Node) {
	if n.Name == "" {
		g.Errorf("topology: a %s node has an empty name", n.Kind)
		return
	}
	if _, dup := g.byName[n.Name]; dup {
		g.Errorf("topology: duplicate node name %q", n.Name)
		return
	}
	g.byName[n.Name] = n
	g.Nodes = append(g.Nodes, n)
}

// Rename gives node old the name new, in every place the graph refers to
// it (other nodes' parents, stores' and global stores' processors). It
// records an error, and changes nothing, when old is not a node or new is
// empty or taken.
func (g *Graph) Rename(old, new string) bool {
	n, ok := g.byName[old]
	switch {
	case !ok:
		g.Errorf("topology: cannot name node %q %q: no such node", old, new)
		return false
	case new == "":
		g.Errorf("topology: cannot give node %q an empty name", old)
		return false
	case new == old:
		return true
	}
	if _, dup := g.byName[new]; dup {
		g.Errorf("topology: cannot name node %q %q: duplicate node name %q", old, new, new)
		return false
	}
	delete(g.byName, old)
	n.Name = new
	g.byName[new] = n
	swap := func(names []string) {
		for i, p := range names {
			if p == old {
				names[i] = new
			}
		}
	}
	for _, m := range g.Nodes {
		swap(m.Parents)
		swap(m.Children)
	}
	for _, sd := range g.Stores {
		swap(sd.Processors)
	}
	for _, gd := range g.Globals {
		swap(gd.Processors)
	}
	return true
}

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindSource:
		return "source"
	case KindProcessor:
		return "processor"
	case KindSink:
		return "sink"
	}
	return "unknown"
}

// Subtopology is a connected component of the graph.
type Subtopology struct {
	ID int
	// Nodes in insertion order.
	Nodes []*Node
	// SourceTopics are the topics its sources read, sorted.
	SourceTopics []string
	// Stores used by its processors, sorted.
	Stores []string
}

// Validate checks the graph and computes children and sub-topologies. It
// returns every problem found, each naming the node or store.
func (g *Graph) Validate() ([]*Subtopology, error) {
	errs := slices.Clone(g.errs)
	for _, n := range g.Nodes {
		n.Children = n.Children[:0]
		n.Stores = n.Stores[:0]
		n.Globals = n.Globals[:0]
	}
	storeNames := make([]string, 0, len(g.Stores))
	for name := range g.Stores {
		storeNames = append(storeNames, name)
	}
	sort.Strings(storeNames)
	for _, name := range storeNames {
		for _, p := range g.Stores[name].Processors {
			if n, ok := g.byName[p]; ok {
				n.Stores = append(n.Stores, name)
			}
		}
	}
	for _, n := range g.Nodes {
		switch n.Kind {
		case KindSource:
			if len(n.Parents) > 0 {
				errs = append(errs, fmt.Errorf("topology: source %q cannot have parents", n.Name))
			}
			if len(n.Topics) == 0 {
				errs = append(errs, fmt.Errorf("topology: source %q reads no topic", n.Name))
			}
		case KindProcessor, KindSink:
			if len(n.Parents) == 0 {
				errs = append(errs, fmt.Errorf("topology: %s %q has no parent", n.Kind, n.Name))
			}
		}
		for _, p := range n.Parents {
			pn, ok := g.byName[p]
			if !ok {
				errs = append(errs, fmt.Errorf("topology: %s %q has unknown parent %q", n.Kind, n.Name, p))
				continue
			}
			if pn.Kind == KindSink {
				errs = append(errs, fmt.Errorf("topology: sink %q cannot be the parent of %q", p, n.Name))
				continue
			}
			pn.Children = append(pn.Children, n.Name)
		}
	}
	topicOwner := map[string]string{}
	for _, n := range g.Nodes {
		for _, t := range n.Topics {
			if o, dup := topicOwner[t]; dup {
				errs = append(errs, fmt.Errorf("topology: topic %q is read by both source %q and source %q", t, o, n.Name))
			}
			topicOwner[t] = n.Name
		}
	}
	errs = append(errs, g.checkGlobals(topicOwner)...)
	errs = append(errs, g.checkTypes()...)
	if c := g.findCycle(); c != "" {
		errs = append(errs, fmt.Errorf("topology: cycle through node %q", c))
	}
	for _, name := range storeNames {
		sd := g.Stores[name]
		if len(sd.Processors) == 0 {
			errs = append(errs, fmt.Errorf("topology: store %q is not connected to any processor", name))
		}
		for _, p := range sd.Processors {
			if n, ok := g.byName[p]; !ok {
				errs = append(errs, fmt.Errorf("topology: store %q is connected to unknown processor %q", name, p))
			} else if n.Kind != KindProcessor {
				errs = append(errs, fmt.Errorf("topology: store %q is connected to %s %q, not a processor", name, n.Kind, p))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(g.Nodes) == 0 {
		return nil, errors.New("topology: empty topology: add at least one source")
	}
	return g.subtopologies(), nil
}

func (g *Graph) findCycle() string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var found string
	var visit func(n *Node) bool
	visit = func(n *Node) bool {
		color[n.Name] = grey
		for _, c := range n.Children {
			cn := g.byName[c]
			switch color[c] {
			case grey:
				found = c
				return true
			case white:
				if visit(cn) {
					return true
				}
			}
		}
		color[n.Name] = black
		return false
	}
	for _, n := range g.Nodes {
		if color[n.Name] == white && visit(n) {
			return found
		}
	}
	return ""
}

// checkGlobals connects the global stores to their processors and checks
// them: a processor that exists, a name no other store has, a topic no
// source reads and no other global store reads.
func (g *Graph) checkGlobals(topicOwner map[string]string) []error {
	var errs []error
	read := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(g.Globals)) {
		gd := g.Globals[name]
		if _, dup := g.Stores[name]; dup {
			errs = append(errs, fmt.Errorf("topology: global store %q has the name of another store", name))
		}
		if o, dup := topicOwner[gd.Topic]; dup {
			errs = append(errs, fmt.Errorf("topology: topic %q is read by both source %q and global store %q", gd.Topic, o, name))
		}
		if o, dup := read[gd.Topic]; dup {
			errs = append(errs, fmt.Errorf("topology: topic %q is read by both global store %q and global store %q", gd.Topic, o, name))
		}
		read[gd.Topic] = name
		for _, p := range gd.Processors {
			n, ok := g.byName[p]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("topology: global store %q is connected to unknown processor %q", name, p))
			case n.Kind != KindProcessor:
				errs = append(errs, fmt.Errorf("topology: global store %q is connected to %s %q, not a processor", name, n.Kind, p))
			case !slices.Contains(n.Globals, name):
				n.Globals = append(n.Globals, name)
			}
		}
	}
	return errs
}

// subtopologies splits the graph into connected components (nodes linked by
// edges or by a shared store), numbered in the order of their first node.
func (g *Graph) subtopologies() []*Subtopology {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		r := find(parent[x])
		parent[x] = r
		return r
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	for _, n := range g.Nodes {
		find(n.Name)
		for _, p := range n.Parents {
			union(n.Name, p)
		}
	}
	for _, sd := range g.Stores {
		for _, p := range sd.Processors[1:] {
			union(p, sd.Processors[0])
		}
	}
	var subs []*Subtopology
	idx := map[string]*Subtopology{}
	for _, n := range g.Nodes {
		r := find(n.Name)
		st, ok := idx[r]
		if !ok {
			st = &Subtopology{ID: len(subs)}
			subs = append(subs, st)
			idx[r] = st
		}
		st.Nodes = append(st.Nodes, n)
		st.SourceTopics = append(st.SourceTopics, n.Topics...)
		for _, s := range n.Stores {
			if !slices.Contains(st.Stores, s) {
				st.Stores = append(st.Stores, s)
			}
		}
	}
	for _, st := range subs {
		sort.Strings(st.SourceTopics)
		sort.Strings(st.Stores)
	}
	return subs
}

// checkTypes wires a throwaway instance of every node to its children, so
// that records of the wrong type flowing into a node fail at build time
// rather than when the first task starts.
func (g *Graph) checkTypes() []error {
	inst := make(map[string]Instance, len(g.Nodes))
	for _, n := range g.Nodes {
		if n.Make != nil {
			inst[n.Name] = n.Make()
		}
	}
	var errs []error
	for _, n := range g.Nodes {
		for _, c := range n.Children {
			if inst[n.Name] == nil || inst[c] == nil {
				continue
			}
			if err := inst[n.Name].AddChild(c, inst[c]); err != nil {
				errs = append(errs, fmt.Errorf("topology: node %q %w", n.Name, err))
			}
		}
	}
	return errs
}

// BindInternal gives the internal (repartition) topics their names, once
// the application id is known: name maps a node's Internal to a topic.
func (g *Graph) BindInternal(name func(internal string) string) {
	for _, n := range g.Nodes {
		if n.Internal == "" {
			continue
		}
		if n.Kind == KindSink {
			n.Topic = name(n.Internal)
		} else {
			n.Topics = []string{name(n.Internal)}
		}
	}
}

// RepartitionPartitions adds to parts the partition count of every
// repartition topic. One whose sink fixes its count (Node.Partitions) has
// that count, whatever else is known of the topic. Any other repartition
// topic read by a sub-topology that also
// reads topics that are not internal (a stream repartitioned to be joined
// with a table) must be co-partitioned with them: it gets their (largest)
// count, as Kafka Streams' co-partitioning enforcer gives it. Any other
// gets the largest count among the input topics of the sub-topology that
// writes it. Repartition topics may feed each other, so it resolves until
// nothing changes. external gives the count of a topic that is not
// internal.
func (g *Graph) RepartitionPartitions(subs []*Subtopology, parts map[string]int32, external func(topic string) int32) {
	subOf := map[string]*Subtopology{}
	readerOf := map[string]*Subtopology{}
	internal := map[string]bool{}
	for _, st := range subs {
		for _, t := range st.SourceTopics {
			readerOf[t] = st
		}
		for _, n := range st.Nodes {
			subOf[n.Name] = st
			if n.Internal != "" && n.Kind == KindSink {
				internal[n.Topic] = true
			}
		}
	}
	for _, n := range g.Nodes {
		if n.Internal != "" && n.Kind == KindSink && n.Partitions > 0 {
			parts[n.Topic] = n.Partitions
		}
	}
	count := func(t string) int32 {
		if p, known := parts[t]; known {
			return p
		}
		return external(t)
	}
	for _, n := range g.Nodes {
		if n.Internal == "" || n.Kind != KindSink || readerOf[n.Topic] == nil {
			continue
		}
		if _, done := parts[n.Topic]; done {
			continue
		}
		var most int32
		for _, t := range readerOf[n.Topic].SourceTopics {
			if !internal[t] {
				most = max(most, count(t))
			}
		}
		if most > 0 {
			parts[n.Topic] = most
		}
	}
	for changed := true; changed; {
		changed = false
		for _, n := range g.Nodes {
			if n.Internal == "" || n.Kind != KindSink {
				continue
			}
			if _, done := parts[n.Topic]; done {
				continue
			}
			var most int32
			ready := true
			for _, t := range subOf[n.Name].SourceTopics {
				p, known := parts[t]
				if !known && internal[t] {
					ready = false // its own writer is not resolved yet
					break
				}
				if !known {
					p = external(t)
				}
				most = max(most, p)
			}
			if ready {
				parts[n.Topic] = most
				changed = true
			}
		}
	}
}
