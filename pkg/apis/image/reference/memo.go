package reference

import "sync"

// memo remembers recent results of Parse. One push parses the same pull spec four times (the
// mapping's validation, the image's, the check of its digest against its name, the new tag
// event), and the grammar is a large regular expression: about 4 µs a parse, several percent
// of a push's CPU. Results are immutable values, and errors are the package's shared ones.
var memo = &parseMemo{max: 1024}

type parseResult struct {
	ref DockerImageReference
	err error
}

// parseMemo is a bounded map that is emptied when full: pushes parse each spec within
// microseconds of each other, so the most recent entries are the only useful ones, and
// starting over costs less than tracking recency.
type parseMemo struct {
	mu      sync.Mutex
	max     int
	results map[string]parseResult
}

func (m *parseMemo) get(spec string) (parseResult, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.results[spec]
	return r, ok
}

func (m *parseMemo) put(spec string, r parseResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.results == nil || len(m.results) >= m.max {
		m.results = make(map[string]parseResult, m.max)
	}
	m.results[spec] = r
}
