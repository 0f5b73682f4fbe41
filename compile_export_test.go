package samsa

import "sort"

// TopicsOf returns the topics an App reads and writes as it will run them,
// internal topics named after its application id, sorted.
func TopicsOf(a *App) []string {
	var topics []string
	for _, n := range a.g.Nodes {
		topics = append(topics, n.Topics...)
		if n.Topic != "" {
			topics = append(topics, n.Topic)
		}
	}
	sort.Strings(topics)
	return topics
}
