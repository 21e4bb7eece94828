package store

import "sync"

// Subscribers is the subscriber list behind Store.Subscribe, shared by the
// implementations. The zero value is ready to use.
type Subscribers struct {
	mu   sync.Mutex
	next int
	subs map[int]func(Event)
}

// Subscribe adds f; the returned function removes it.
func (s *Subscribers) Subscribe(f func(Event)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[int]func(Event){}
	}
	id := s.next
	s.next++
	s.subs[id] = f
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// Publish calls every subscriber with each event, outside the lock (a
// subscriber may subscribe or unsubscribe).
func (s *Subscribers) Publish(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	fs := make([]func(Event), 0, len(s.subs))
	for _, f := range s.subs {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, ev := range evs {
		for _, f := range fs {
			f(ev)
		}
	}
}
