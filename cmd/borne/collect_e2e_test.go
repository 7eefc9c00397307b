package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loiret/borne/collect"
	"github.com/loiret/borne/collect/collecttest"
	"github.com/loiret/borne/collect/pgtest"
	"github.com/loiret/borne/config"
	"github.com/loiret/borne/usage"
)

// The collector's end-to-end tests run the real binary on both sides: the
// kiosks' `borne logs sync` from their own configs, into `borne collect
// serve`, on a SQLite file and on a PostgreSQL cluster the test starts.

// collectorDBs gives each test a SQLite file and a fresh PostgreSQL
// database, on a cluster started for the test and stopped after it.
func collectorDBs(t *testing.T) map[string]string {
	t.Helper()
	c, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatalf("the collector's tests need a real PostgreSQL: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	url, err := c.NewDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"sqlite": filepath.Join(t.TempDir(), "events.db"), "postgres": url}
}

// collectorPort is a loopback address nothing listens on, so the collector
// can come back on the same one after a kill.
func collectorPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func collectorConfig(t *testing.T, database, listen string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "collector.toml")
	body := fmt.Sprintf("listen = %q\ntls_cert = \"\"\ntls_key = \"\"\ndatabase = %q\ntimezone = \"Europe/Paris\"\nretention = \"760d\"\nsync_interval = \"1m\"\nread_timeout = \"3s\"\n", listen, database)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// collectorProc is a running `borne collect serve`.
type collectorProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *bytes.Buffer
}

func startCollector(t *testing.T, cfg string) *collectorProc {
	t.Helper()
	cmd := exec.Command(binary, "collect", "serve", "--config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &collectorProc{cmd: cmd, done: make(chan struct{}), log: &bytes.Buffer{}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.log.WriteString(line + "\n")
			if _, rest, ok := strings.Cut(line, "listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				ready <- strings.TrimSuffix(u, collect.EventsPath)
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	select {
	case p.url = <-ready:
	case <-p.done:
		t.Fatalf("collect serve stopped: %s", p.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("collect serve did not start: %s", p.log.String())
	}
	return p
}

func (p *collectorProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// addToken runs `borne collect token add SITE` and returns the token, the
// last line of its output.
func addToken(t *testing.T, cfg, site string) string {
	t.Helper()
	out, err := exec.Command(binary, "collect", "token", "add", site, "--config", cfg).Output()
	if err != nil {
		t.Fatalf("token add %s: %v %s", site, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// kioskConfig is a kiosk's config for site at place, syncing to url with
// token.
func kioskConfig(t *testing.T, site, place, url, token string) (cfg, db string) {
	t.Helper()
	cfg, db = testConfig(t)
	dir := filepath.Dir(cfg)
	tokenFile := filepath.Join(dir, "sync.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(cfg)
	body = bytes.Replace(body, []byte(`id = "test-gien"`), fmt.Appendf(nil, "id = %q", site), 1)
	body = bytes.Replace(body, []byte(`place = "Gien"`), fmt.Appendf(nil, "place = %q", place), 1)
	sync := fmt.Sprintf("[usage.sync]\nurl = %q\ntoken_file = %q\ninterval = \"1m\"\n", url+collect.EventsPath, tokenFile)
	// A kiosk refuses plain HTTP but to loopback, when told so (the key
	// exists on kiosks that check it).
	if _, err := config.Parse("probe.toml", bytes.Replace(body, []byte("\n[operators]"), []byte("\n"+sync+"allow_loopback_http = true\n\n[operators]"), 1)); err == nil {
		sync += "allow_loopback_http = true\n"
	}
	body = bytes.Replace(body, []byte("\n[operators]"), []byte("\n"+sync+"\n[operators]"), 1)
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

type e2eKiosk struct {
	site, place, cfg, db string
}

func (k e2eKiosk) sync(args ...string) *exec.Cmd {
	return exec.Command(binary, append([]string{"logs", "sync", "--config", k.cfg}, args...)...)
}

// TestCollectorWithRealKiosks: several kiosks sync with the real binary
// into one collector, two at once, one of them twice over the same month;
// a kiosk with another site's token is refused and nothing of it stored;
// the collector's stats and fleet then tell what was sent.
func TestCollectorWithRealKiosks(t *testing.T) {
	for engine, database := range collectorDBs(t) {
		t.Run(engine, func(t *testing.T) {
			cfg := collectorConfig(t, database, "127.0.0.1:0")
			srv := startCollector(t, cfg)
			nov := time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)
			var kiosks []e2eKiosk
			for i, sp := range [][2]string{{"loiret-gien", "Gien"}, {"loiret-briare", "Briare"}, {"loiret-pithiviers", "Pithiviers"}} {
				k := e2eKiosk{site: sp[0], place: sp[1]}
				k.cfg, k.db = kioskConfig(t, k.site, k.place, srv.url, addToken(t, cfg, k.site))
				if err := collecttest.FillLog(k.db, k.site, k.place, 2500+1000*i, nov, 5*time.Minute); err != nil {
					t.Fatal(err)
				}
				kiosks = append(kiosks, k)
			}
			// The same month twice: a copy of Gien's log, taken before
			// its sync, is sent again after it.
			again := filepath.Join(t.TempDir(), "again.db")
			copyFile(t, kiosks[0].db, again)
			// Two kiosks at once, then the third.
			var wg sync.WaitGroup
			for _, k := range kiosks[:2] {
				wg.Go(func() {
					if out, err := k.sync().CombinedOutput(); err != nil {
						t.Errorf("%s: %v %s", k.site, err, out)
					}
				})
			}
			wg.Wait()
			if out, err := kiosks[2].sync().CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			if out, err := kiosks[0].sync("--db", again).CombinedOutput(); err != nil || !strings.Contains(string(out), "sent 2500 events") {
				t.Fatalf("the same month again: %v %s", err, out)
			}
			// Briare's token on Pithiviers' kiosk (a copy of its log).
			stolen, stolenDB := kioskConfig(t, "loiret-pithiviers", "Pithiviers", srv.url, tokenOf(t, kiosks[1].cfg))
			if err := collecttest.FillLog(stolenDB, "loiret-pithiviers", "Pithiviers", 10, nov, time.Minute); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(binary, "logs", "sync", "--config", stolen, "--once").CombinedOutput()
			if err == nil || !strings.Contains(string(out), "403") {
				t.Errorf("another site's token: %v %s", err, out)
			}

			// Fleet: every event once, no holes; then a kiosk with a token
			// that never synced makes the fleet ask for a visit.
			var fleet collect.Fleet
			runJSON(t, &fleet, 0, "collect", "fleet", "--config", cfg, "--format", "json")
			if len(fleet.Kiosks) != 3 {
				t.Fatalf("fleet %+v", fleet)
			}
			for i, k := range fleet.Kiosks {
				want := map[string]int64{"loiret-briare": 3500, "loiret-gien": 2500, "loiret-pithiviers": 4500}[k.Site]
				if k.Events != want || k.Holes != 0 || k.NeedsVisit || k.LastSync == nil || len(k.Generations) != 1 {
					t.Errorf("kiosk %d: %+v", i, k)
				}
			}
			addToken(t, cfg, "loiret-sully")
			code, out2 := runBinary(t, "collect", "fleet", "--config", cfg)
			if code != exitNeedsVisit || !strings.Contains(out2, "loiret-sully") || !strings.Contains(out2, "never synced") || !strings.Contains(out2, "1 kiosks need a visit: loiret-sully") {
				t.Errorf("fleet with a silent kiosk: %d\n%s", code, out2)
			}
			// Stats: each site's figures are its own kiosk's.
			var st collect.Stats
			runJSON(t, &st, 0, "collect", "stats", "--config", cfg, "--by", "month", "--format", "json", "--from", "2026-11-01", "--to", "2026-11-30")
			var sessions int
			for _, k := range kiosks {
				var own usage.Stats
				runJSON(t, &own, 0, "logs", "stats", "--db", k.db, "--by", "month", "--format", "json", "--timezone", "Europe/Paris", "--from", "2026-11-01", "--to", "2026-11-30")
				sessions += own.Total.Sessions
				got := map[string]collect.StatsRow{}
				for _, r := range st.Rows {
					if r.Site == k.site {
						got[r.Period+"/"+r.Operator] = r
					}
				}
				if len(got) != len(own.Rows) {
					t.Errorf("%s: %d rows, the kiosk has %d", k.site, len(got), len(own.Rows))
				}
				for _, r := range own.Rows {
					g := got[r.Period+"/"+r.Operator]
					if g.Place != k.place || g.Sessions != r.Sessions || g.Completed != r.Completed || g.MedianDurationMS != r.MedianDurationMS ||
						g.TotalDurationMS != r.TotalDurationMS || g.Surveys != r.Surveys || g.PrintJobs != r.PrintJobs || fmt.Sprint(*g.SurveyAverage) != fmt.Sprint(*r.SurveyAverage) {
						t.Errorf("%s %s %s: collector %+v, kiosk %+v", k.site, r.Period, r.Operator, g, r)
					}
				}
			}
			if st.Total.Sessions != sessions || sessions == 0 {
				t.Errorf("total sessions %d, the kiosks say %d", st.Total.Sessions, sessions)
			}
			// The same figures for the monitoring.
			resp, err := http.Get(srv.url + collect.MetricsPath)
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`borne_collect_events{site="loiret-pithiviers"} 4500`, `borne_collect_needs_visit{site="loiret-sully"} 1`, `borne_collect_seq_holes{site="loiret-gien"} 0`} {
				if !strings.Contains(string(metrics), want) {
					t.Errorf("metrics lack %s:\n%s", want, metrics)
				}
			}
			// Revoked: Gien's next sync is refused.
			if code, out := runBinary(t, "collect", "token", "revoke", "loiret-gien", "--config", cfg); code != 0 {
				t.Fatalf("revoke: %s", out)
			}
			collecttest.FillLog(kiosks[0].db, "loiret-gien", "Gien", 5, time.Now(), time.Second)
			if out, err := kiosks[0].sync("--once").CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
				t.Errorf("revoked: %v %s", err, out)
			}
		})
	}
}

func tokenOf(t *testing.T, kioskCfg string) string {
	c, err := config.Load(kioskCfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.Usage.Sync.TokenFile)
	return strings.TrimSpace(string(b))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runJSON runs the binary, checks its exit code and decodes its output.
func runJSON(t *testing.T, v any, wantCode int, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantCode {
		t.Fatalf("%v: exit %d, want %d: %s", args, code, wantCode, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// TestCollectorKilledMidBatch: the collector is killed with SIGKILL while
// kiosks send it batches, 50 times; after the kiosks' next sync it holds
// every event each kiosk has, exactly once, and no holes.
func TestCollectorKilledMidBatch(t *testing.T) {
	for engine, database := range collectorDBs(t) {
		t.Run(engine, func(t *testing.T) {
			listen := collectorPort(t)
			cfg := collectorConfig(t, database, listen)
			url := "http://" + listen
			start := time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)
			var kiosks []e2eKiosk
			for _, sp := range [][2]string{{"loiret-gien", "Gien"}, {"loiret-briare", "Briare"}, {"loiret-sully", "Sully-sur-Loire"}} {
				k := e2eKiosk{site: sp[0], place: sp[1]}
				k.cfg, k.db = kioskConfig(t, k.site, k.place, url, addToken(t, cfg, k.site))
				kiosks = append(kiosks, k)
			}
			kills := 0
			interrupted := 0
			for round := range 50 {
				for _, k := range kiosks { // new events since the last round
					if err := collecttest.FillLog(k.db, k.site, k.place, 1200, start.Add(time.Duration(round)*24*time.Hour), 30*time.Second); err != nil {
						t.Fatal(err)
					}
				}
				srv := startCollector(t, cfg)
				var procs []*exec.Cmd
				for _, k := range kiosks {
					cmd := k.sync("--once")
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					procs = append(procs, cmd)
				}
				time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
				select {
				case <-srv.done:
					t.Fatalf("the collector stopped by itself: %s", srv.log.String())
				default:
				}
				srv.kill()
				kills++
				cut := false
				for _, p := range procs {
					// Failed or done: the next sync sends the rest.
					cut = p.Wait() != nil || cut
				}
				if cut {
					interrupted++
				}
			}
			t.Logf("%d kills, %d of them with a kiosk's sync under way", kills, interrupted)
			srv := startCollector(t, cfg)
			for _, k := range kiosks {
				if out, err := k.sync().CombinedOutput(); err != nil {
					t.Fatalf("%s after %d kills: %v %s", k.site, kills, err, out)
				}
			}
			srv.kill()
			s, err := collect.Open(context.Background(), database)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f, err := s.Fleet(context.Background(), collect.FleetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range kiosks {
				ids, err := collecttest.IDs(k.db)
				if err != nil {
					t.Fatal(err)
				}
				held, err := s.SiteIDs(context.Background(), k.site)
				if err != nil {
					t.Fatal(err)
				}
				missing, extra := 0, len(held)
				for id := range ids {
					if held[id] == 0 {
						missing++
					} else {
						extra--
					}
				}
				twice := 0
				for _, n := range held {
					if n != 1 {
						twice++
					}
				}
				kk := f.Kiosks[slicesIndex(f.Kiosks, k.site)]
				if len(ids) != 50*1200 || missing != 0 || extra != 0 || twice != 0 || kk.Events != int64(len(ids)) || kk.Holes != 0 {
					t.Errorf("kiosk %d %s: %d events, %d missing, %d not its own, %d more than once; fleet %+v", i, k.site, len(ids), missing, extra, twice, kk)
				}
			}
		})
	}
}

func slicesIndex(ks []collect.Kiosk, site string) int {
	for i, k := range ks {
		if k.Site == site {
			return i
		}
	}
	panic("no kiosk " + site)
}
