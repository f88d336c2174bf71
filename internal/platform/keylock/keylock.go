// Package keylock serializes work per key (an instance, a network) while
// letting different keys proceed in parallel.
package keylock

import "sync"

// Map holds one mutex per key. The zero value is ready to use. Mutexes are
// kept for the life of the Map: drivers have one per object they manage.
type Map struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Lock locks key and returns the function that unlocks it.
func (m *Map) Lock(key string) func() {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*sync.Mutex{}
	}
	l := m.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}
