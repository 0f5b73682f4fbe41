package topology

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/samsa-streams/samsa/internal/engine"
)

// Description is the shape of a topology, as Kafka Streams'
// TopologyDescription: sub-topologies of sources, processors and sinks.
type Description struct {
	Subtopologies []SubtopologyDescription
	// GlobalStores are the stores of global tables, which belong to no
	// sub-topology, sorted by name.
	GlobalStores []GlobalStoreDescription
}

// GlobalStoreDescription describes the store of a global table: the topic
// read into it and the processors that read it (in every task).
type GlobalStoreDescription struct {
	Name       string
	Topic      string
	Processors []string
}

// SubtopologyDescription describes one sub-topology.
type SubtopologyDescription struct {
	ID    int
	Nodes []NodeDescription
}

// NodeDescription describes one node.
type NodeDescription struct {
	// Kind is "Source", "Processor" or "Sink".
	Kind string
	Name string
	// Topics read (sources).
	Topics []string
	// Stores connected (processors).
	Stores []string
	// Topic written (sinks); empty when a topic function chooses it.
	Topic string
	// Successors and Predecessors name the linked nodes.
	Successors   []string
	Predecessors []string
}

// describedTopic names a repartition topic as Kafka Streams' topology
// description does, <name>-repartition: the App prefixes it with its
// application id and a dash.
func describedTopic(topic string) string {
	if name, ok := strings.CutPrefix(topic, internalTopicPrefix); ok {
		if verbatim, ok := strings.CutSuffix(name, verbatimTopic); ok {
			return verbatim // a foreign-key join's topic
		}
		return name + "-repartition"
	}
	return topic
}

// Describe validates the topology and returns its description. A
// repartition topic appears as <name>-repartition, as in Kafka Streams'
// description; the App creates it as <application id>-<name>-repartition.
func (t *Topology) Describe() (*Description, error) {
	subs, err := t.g.Clone().Validate()
	if err != nil {
		return nil, err
	}
	d := &Description{}
	for _, st := range subs {
		sd := SubtopologyDescription{ID: st.ID}
		for _, n := range st.Nodes {
			nd := NodeDescription{
				Name:         n.Name,
				Successors:   append([]string(nil), n.Children...),
				Predecessors: append([]string(nil), n.Parents...),
			}
			switch n.Kind {
			case engine.KindSource:
				nd.Kind = "Source"
				for _, topic := range n.Topics {
					nd.Topics = append(nd.Topics, describedTopic(topic))
				}
			case engine.KindProcessor:
				nd.Kind, nd.Stores = "Processor", append([]string(nil), n.Stores...)
			case engine.KindSink:
				nd.Kind, nd.Topic = "Sink", describedTopic(n.Topic)
			}
			sd.Nodes = append(sd.Nodes, nd)
		}
		d.Subtopologies = append(d.Subtopologies, sd)
	}
	for _, name := range slices.Sorted(maps.Keys(t.g.Globals)) {
		gd := t.g.Globals[name]
		d.GlobalStores = append(d.GlobalStores, GlobalStoreDescription{Name: name, Topic: gd.Topic, Processors: slices.Clone(gd.Processors)})
	}
	return d, nil
}

// String renders the description in the text format of Kafka Streams'
// Topology.describe(), so tools that draw that text can draw samsa's.
func (d *Description) String() string {
	var b strings.Builder
	b.WriteString("Topologies:\n")
	for _, st := range d.Subtopologies {
		fmt.Fprintf(&b, "   Sub-topology: %d\n", st.ID)
		for _, n := range st.Nodes {
			switch n.Kind {
			case "Source":
				fmt.Fprintf(&b, "    Source: %s (topics: [%s])\n", n.Name, strings.Join(n.Topics, ", "))
			case "Processor":
				fmt.Fprintf(&b, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
			case "Sink":
				if n.Topic != "" {
					fmt.Fprintf(&b, "    Sink: %s (topic: %s)\n", n.Name, n.Topic)
				} else {
					fmt.Fprintf(&b, "    Sink: %s (extractor class: TopicNameExtractor)\n", n.Name)
				}
			}
			if n.Kind != "Sink" {
				fmt.Fprintf(&b, "      --> %s\n", arrows(n.Successors))
			}
			if n.Kind != "Source" {
				fmt.Fprintf(&b, "      <-- %s\n", arrows(n.Predecessors))
			}
		}
		b.WriteString("\n")
	}
	for _, g := range d.GlobalStores {
		fmt.Fprintf(&b, "   Global store: %s (topic: %s)\n", g.Name, g.Topic)
		fmt.Fprintf(&b, "      --> %s\n\n", arrows(g.Processors))
	}
	return b.String()
}

func arrows(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Mermaid renders the description as a Mermaid flowchart: topics as
// stadiums, nodes as boxes, stores as cylinders, one subgraph per
// sub-topology.
func (d *Description) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	id := func(kind, name string) string {
		r := strings.NewReplacer("-", "_", ".", "_", " ", "_", "/", "_", ":", "_")
		return kind + "_" + r.Replace(name)
	}
	topics := map[string]bool{}
	stores := map[string]bool{}
	for _, st := range d.Subtopologies {
		fmt.Fprintf(&b, "  subgraph sub%d[\"Sub-topology %d\"]\n", st.ID, st.ID)
		for _, n := range st.Nodes {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", id("n", n.Name), n.Name)
		}
		b.WriteString("  end\n")
		for _, n := range st.Nodes {
			for _, t := range n.Topics {
				if !topics[t] {
					topics[t] = true
					fmt.Fprintf(&b, "  %s([\"%s\"])\n", id("t", t), t)
				}
				fmt.Fprintf(&b, "  %s --> %s\n", id("t", t), id("n", n.Name))
			}
			for _, s := range n.Successors {
				fmt.Fprintf(&b, "  %s --> %s\n", id("n", n.Name), id("n", s))
			}
			for _, s := range n.Stores {
				if !stores[s] {
					stores[s] = true
					fmt.Fprintf(&b, "  %s[(\"%s\")]\n", id("s", s), s)
				}
				fmt.Fprintf(&b, "  %s --- %s\n", id("n", n.Name), id("s", s))
			}
			if n.Kind == "Sink" && n.Topic != "" {
				if !topics[n.Topic] {
					topics[n.Topic] = true
					fmt.Fprintf(&b, "  %s([\"%s\"])\n", id("t", n.Topic), n.Topic)
				}
				fmt.Fprintf(&b, "  %s --> %s\n", id("n", n.Name), id("t", n.Topic))
			}
		}
	}
	for _, g := range d.GlobalStores {
		if !topics[g.Topic] {
			topics[g.Topic] = true
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id("t", g.Topic), g.Topic)
		}
		fmt.Fprintf(&b, "  %s[(\"%s (global)\")]\n", id("s", g.Name), g.Name)
		fmt.Fprintf(&b, "  %s --> %s\n", id("t", g.Topic), id("s", g.Name))
		for _, p := range g.Processors {
			fmt.Fprintf(&b, "  %s --- %s\n", id("n", p), id("s", g.Name))
		}
	}
	return b.String()
}
