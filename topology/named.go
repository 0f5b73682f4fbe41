package topology

// Named gives the node that produces s (the last node its operator added)
// the name name, in place of the generated one, as Kafka Streams'
// Named.as: the name shows in Describe, logs, metrics and error messages
// and does not shift when operators are added upstream. Call it right
// after the operator, before anything reads the stream:
//
//	valid := in.Filter(isValid).Named("drop-invalid")
//
// Naming a node that was named already (a source, a Split branch, a name
// given by the low-level builder or an earlier Named) or using a name that
// is taken is a validation error. Node names name no topic and no store.
func (s Stream[K, V]) Named(name string) Stream[K, V] {
	if !s.t.rename(s.node, name) {
		return s
	}
	if s.rekeyedAt == s.node {
		s.rekeyedAt = name
	}
	s.node = name
	return s
}

// Named gives the node that produces t the name name, as Stream.Named.
func (t Table[K, V]) Named(name string) Table[K, V] {
	if t.t.rename(t.node, name) {
		t.node = name
	}
	return t
}

// rename renames a node the DSL named.
func (t *Topology) rename(node, name string) bool {
	if !t.generated[node] {
		t.g.Errorf("topology: cannot name node %q %q: only a node the DSL named can be renamed (Named right after its operator)", node, name)
		return false
	}
	if !t.g.Rename(node, name) {
		return false
	}
	delete(t.generated, node)
	return true
}
