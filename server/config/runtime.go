package config

import "go.yaml.in/yaml/v3"

// Runtime tunes the Go runtime the server runs on.
type Runtime struct {
	// GCMinHeap is the smallest heap size at which the garbage collector
	// starts a cycle: while the live heap is small, the collector's
	// percentage is raised so that the next cycle starts at this size
	// rather than at twice the live heap, which on a busy server with a
	// small heap means a collection several times a second, each slowing
	// the stanzas handled meanwhile. It costs memory: garbage is held
	// longer, and long-lived objects end up spread over a larger heap (10
	// to 16 MiB more resident after 3,000 logins with 64 MiB). 0, the
	// default, leaves the collector alone; so does a GOGC environment
	// variable. Key "gc_min_heap".
	GCMinHeap int
}

// runtime decodes the runtime section.
func (d *decoder) runtime(at, n *yaml.Node, key string, r *Runtime) {
	d.mapping(at, n, key, map[string]field{
		"gc_min_heap": func(at, v *yaml.Node, k string) { d.size(at, v, k, &r.GCMinHeap) },
	})
}
