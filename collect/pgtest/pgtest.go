// Package pgtest starts a real PostgreSQL cluster for tests: Debian's
// server binaries, a cluster made in a temporary folder and run as the
// unprivileged user nobody (initdb and postgres refuse root), listening on
// a Unix socket in that folder only.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// nobody is the unprivileged user every Debian has.
const nobody = 65534

// Cluster is a running PostgreSQL server.
type Cluster struct {
	Dir  string // the cluster's folder; its socket is Dir/.s.PGSQL.5432
	Bin  string // the server's binaries
	cmd  *exec.Cmd
	done chan error
	dbs  atomic.Int64
}

// Options tune the cluster.
type Options struct {
	// Durable keeps fsync on, as a production server: for benchmarks.
	// Tests turn it off, which loses nothing unless the machine crashes.
	Durable bool
}

// BinDir finds the server's binaries (Debian's postgresql package), the
// newest version first.
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		// Often a link to the versioned folder, which holds psql too.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "psql")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL's server is not installed (Debian: apt-get install postgresql); the collector's tests need it")
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start makes and starts a cluster. Stop it with Stop.
func Start(o Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// Under the system's temporary folder, not a test's (whose parents
	// are root's only): nobody must reach it.
	dir, err := os.MkdirTemp("", "borne-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Bin: bin, done: make(chan error, 1)}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command("initdb", "-D", data, "-U", "borne", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	args := []string{"-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "max_connections=200", "-c", "shared_buffers=128MB"}
	if !o.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	c.cmd = c.command("postgres", args...)
	var logs bytes.Buffer
	c.cmd.Stdout, c.cmd.Stderr = &logs, &logs
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %v", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), c.URL("postgres"))
		if err == nil {
			conn.Close(context.Background())
			break
		}
		select {
		case err := <-c.done:
			c.cmd = nil
			return nil, fmt.Errorf("postgres stopped: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("postgres did not answer in 30 s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ok = true
	return c, nil
}

// command runs one of the server's programs as nobody when we are root.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.Bin, name), args...)
	cmd.Dir = c.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}, Setpgid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	return cmd
}

// URL is the postgres:// URL of database db on the cluster's socket.
func (c *Cluster) URL(db string) string {
	return "postgres://borne@/" + db + "?host=" + c.Dir + "&sslmode=disable"
}

// NewDatabase creates a fresh database and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.dbs.Add(1))
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

// Psql runs psql on database db with args, as nobody.
func (c *Cluster) Psql(db string, args ...string) *exec.Cmd {
	return c.command("psql", append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", c.Dir, "-U", "borne", "-d", db}, args...)...)
}

// Stop stops the server (a fast shutdown) and removes its folder.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-c.done:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			err = <-c.done
		}
		if err != nil && strings.Contains(err.Error(), "signal") {
			err = nil
		}
	}
	os.RemoveAll(c.Dir)
	return err
}
