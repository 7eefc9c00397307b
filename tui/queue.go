package tui

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// serialQueue runs jobs one at a time in the order Update gave them, away
// from Update: a microphone opened when a call starts must never be
// overtaken by its closing when the call ends, nor an event recorded for
// one tap by the event of the next. It is shared by the model's copies;
// its goroutine lives only while there is work.
type serialQueue struct {
	mu      sync.Mutex
	jobs    []*queued
	running bool
}

type queued struct {
	f        func()
	done     chan struct{}
	panicked any
}

// push queues f and returns wait, which blocks until f has run. A panic
// of f is raised again by wait, in the command that waits: Bubble Tea
// turns it into the shell's crash (terminal restored, exit 70) as for any
// command, where the queue's own goroutine would end the process bare.
func (q *serialQueue) push(f func()) (wait func()) {
	j := &queued{f: f, done: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	if !q.running {
		q.running = true
		go q.run()
	}
	return func() {
		<-j.done
		if j.panicked != nil {
			panic(j.panicked)
		}
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
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		j.do()
	}
}

func (j *queued) do() {
	defer close(j.done)
	defer func() {
		if r := recover(); r != nil {
			j.panicked = fmt.Sprintf("%v\n\n%s", r, debug.Stack())
		}
	}()
	j.f()
}
