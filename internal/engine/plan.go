package engine

import (
	"maps"
	"slices"
	"sort"
)

// Plan is a topology compiled for one application id: a copy of the
// topology's graph with its internal topics named, validated and split into
// sub-topologies. The App and the test driver run a Plan; the user's
// topology is never changed by compiling it, so one topology may be
// compiled for several applications, on several goroutines.
type Plan struct {
	AppID string
	Graph *Graph
	Subs  []*Subtopology
	// TopicSub maps a source topic to the sub-topology reading it.
	TopicSub map[string]int
	// ChangelogSub maps the changelog topic of a logged store to the
	// sub-topology owning the store.
	ChangelogSub map[string]int
}

// Names gives internal topics their names once the application id is known.
type Names struct {
	// Repartition names the repartition topic of a node's Internal.
	Repartition func(internal string) string
	// Changelog names the changelog topic of a store.
	Changelog func(store string) string
}

// Compile returns the plan of g for the application id: g is copied first,
// so that it is never changed.
func Compile(g *Graph, appID string, names Names) (*Plan, error) {
	c := g.Clone()
	c.BindInternal(names.Repartition)
	subs, err := c.Validate()
	if err != nil {
		return nil, err
	}
	p := &Plan{AppID: appID, Graph: c, Subs: subs, TopicSub: map[string]int{}, ChangelogSub: map[string]int{}}
	for _, st := range subs {
		for _, t := range st.SourceTopics {
			p.TopicSub[t] = st.ID
		}
		for _, name := range st.Stores {
			if c.Stores[name].Logged {
				p.ChangelogSub[names.Changelog(name)] = st.ID
			}
		}
	}
	return p, nil
}

// Clone returns a copy of the graph that shares nothing mutable with g
// (node factories and store wrappers are shared: they are functions).
func (g *Graph) Clone() *Graph {
	c := &Graph{
		Nodes:   make([]*Node, 0, len(g.Nodes)),
		byName:  make(map[string]*Node, len(g.byName)),
		Stores:  make(map[string]*StoreDef, len(g.Stores)),
		Globals: make(map[string]*GlobalDef, len(g.Globals)),
		errs:    slices.Clone(g.errs),
	}
	for _, n := range g.Nodes {
		cn := *n
		cn.Parents = slices.Clone(n.Parents)
		cn.Children = slices.Clone(n.Children)
		cn.Topics = slices.Clone(n.Topics)
		cn.Stores = slices.Clone(n.Stores)
		cn.Globals = slices.Clone(n.Globals)
		c.Nodes = append(c.Nodes, &cn)
		c.byName[cn.Name] = &cn
	}
	for name, sd := range g.Stores {
		csd := *sd
		csd.Processors = slices.Clone(sd.Processors)
		c.Stores[name] = &csd
	}
	for name, gd := range g.Globals {
		cgd := *gd
		cgd.Processors = slices.Clone(gd.Processors)
		c.Globals[name] = &cgd
	}
	return c
}

// ApplicationID returns the application id the plan was compiled for.
func (p *Plan) ApplicationID() string { return p.AppID }

// Subtopologies returns the number of sub-topologies.
func (p *Plan) Subtopologies() int { return len(p.Subs) }

// SourceTopics returns every topic the plan reads, repartition topics
// included, sorted.
func (p *Plan) SourceTopics() []string {
	return slices.Sorted(maps.Keys(p.TopicSub))
}

// InternalTopics returns the topics the application owns, sorted:
// repartition topics and the changelogs of logged stores.
func (p *Plan) InternalTopics() []string {
	var topics []string
	for _, n := range p.Graph.Nodes {
		if n.Internal != "" && n.Kind == KindSink {
			topics = append(topics, n.Topic)
		}
	}
	topics = append(topics, slices.Collect(maps.Keys(p.ChangelogSub))...)
	sort.Strings(topics)
	return topics
}
