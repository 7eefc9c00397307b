package usage

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writerMode is the child process of TestKillWriterAtRandom: it records
// events as fast as it can and prints "seq id" after each Record returns,
// and "cursor seq" after each move of the sync cursor, until it is killed.
func writerMode(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	s.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
	out := os.Stdout // unbuffered: a line printed is a line the parent sees
	for i := 0; ; i++ {
		e, err := s.Record(bg, Event{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted,
			DurationMS: int64(i), Detail: map[string]any{"code": "x"}})
		if err != nil {
			fmt.Fprintln(out, "error:", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "%d %s\n", e.Seq, e.ID)
		if i%5 == 4 {
			if err := s.moveCursor(bg, e.Seq); err != nil {
				fmt.Fprintln(out, "error:", err)
				os.Exit(1)
			}
			fmt.Fprintf(out, "cursor %d\n", e.Seq)
		}
	}
}

// TestKillWriterAtRandom kills a process writing the log with SIGKILL at
// random moments, many times: each time the file must pass SQLite's
// integrity check, hold every event the writer had been told was
// recorded, under the seq it was given, and keep its cursor.
func TestKillWriterAtRandom(t *testing.T) {
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	path := t.TempDir() + "/usage.db"
	committed := map[int64]string{}
	var cursor int64
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), "BORNE_USAGE_CHILD=writer", "BORNE_USAGE_DB="+path)
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var lines []string
		first := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if len(lines) == 0 {
					close(first)
				}
				lines = append(lines, sc.Text())
			}
		}()
		// Odd rounds: anywhere from during Open on. Even rounds: once the
		// writer is writing, however slowly a loaded machine starts it.
		if round%2 == 0 {
			select {
			case <-first:
			case <-time.After(10 * time.Second):
			}
		}
		time.Sleep(time.Duration(rng.IntN(120)) * time.Millisecond)
		child.Process.Signal(syscall.SIGKILL)
		wg.Wait()
		child.Wait()
		for _, l := range lines {
			switch a, b, _ := strings.Cut(l, " "); {
			case a == "error:":
				t.Fatalf("round %d: the writer failed: %s", round, l)
			case a == "cursor":
				n, _ := strconv.ParseInt(b, 10, 64)
				cursor = max(cursor, n)
			default:
				seq, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					t.Fatalf("round %d: line %q", round, l)
				}
				if id, ok := committed[seq]; ok && id != b {
					t.Fatalf("round %d: seq %d given to %s and %s", round, seq, id, b)
				}
				committed[seq] = b
			}
		}

		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		var check string
		if err := s.w.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, check, err)
		}
		evs, err := s.Events(bg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		have := make(map[int64]string, len(evs))
		for _, e := range evs {
			have[e.Seq] = e.ID
		}
		for seq, id := range committed {
			if have[seq] != id {
				t.Fatalf("round %d: event %d (%s), reported recorded, is missing (found %q)", round, seq, id, have[seq])
			}
		}
		st, err := s.SyncState(bg)
		if err != nil || st.Cursor < cursor {
			t.Fatalf("round %d: cursor %d, the writer had moved it to %d (%v)", round, st.Cursor, cursor, err)
		}
		s.Close()
	}
	if len(committed) < rounds {
		t.Errorf("only %d events recorded in %d rounds: the writer hardly ran", len(committed), rounds)
	}
	t.Logf("%d rounds, %d events reported recorded, all present", rounds, len(committed))
}
