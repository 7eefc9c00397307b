package tui

import "sync"

// serialQueue runs jobs one at a time in the order Update gave them, away
// from Update: a microphone opened when a call starts must never be
// overtaken by its closing when the call ends, nor an event recorded for
// one tap by the event of the next. It is shared by the model's copies;
// its goroutine lives only while there is work.
type serialQueue struct {
	mu      sync.Mutex
	jobs    []func()
	running bool
}

func (q *serialQueue) push(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, f)
	if !q.running {
		q.running = true
		go q.run()
	}
}

func (q *serialQueue) run() {
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		f := q.jobs[0]
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		f()
	}
}
