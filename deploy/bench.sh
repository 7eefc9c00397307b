#!/bin/sh
# `make bench`: every performance figure of borne beside its anchor and its
# budget, measured in one run on this machine. Nothing here passes or
# fails: read the figures. BORNE_IDLE_SECONDS shortens the idle spans (60).
set -eu
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== machine"
echo "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); load: $(cut -d' ' -f1-3 /proc/loadavg)"
go version
echo

section() { printf '\n== %s\n   anchor: %s\n   budget: %s\n' "$1" "$2" "$3"; }
gobench() { go test -run '^$' -count=1 "$@" 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true; }

section "start-up to the complete home screen (120x36 pseudo-terminal)" \
	"the minimal Bubble Tea v2 program with six tiles, same run" "1.5x the anchor (issue 9); under 100 ms (issue 2)"
gobench ./cmd/borne -bench FirstFrame -benchtime 7x

section "one tap: Update + View at 200x60" "-" "under 2 ms"
gobench ./tui -bench 'Tap|View' -benchtime 2000x

section "idle CPU over ${BORNE_IDLE_SECONDS:-60} s, nobody touching (home, attract, asleep)" \
	"the minimal program at Bubble Tea's default 60 fps" "0.5% of one core; peak RSS under 30 MiB"
gobench ./cmd/borne -bench IdleCPU -benchtime 1x -timeout 30m

section "heap over 1,000 simulated calls" "-" "no growth from N to 2N calls"
go test -count=1 -run TestMemoryFlatOverCalls -v ./tui 2>&1 | grep -E 'heap after|ok|FAIL'

section "one durable usage event (WAL, synchronous=FULL)" \
	"sqlite3 CLI, 2,000 durable inserts in one process" "1.2x the anchor; under 5 ms"
gobench ./usage -bench '^BenchmarkRecord' -benchtime 2000x
db="$work/anchor.db"
sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, at TEXT, kind TEXT, detail TEXT);" >/dev/null
i=0; : > "$work/inserts.sql"
echo "PRAGMA synchronous=FULL;" >> "$work/inserts.sql"
while [ $i -lt 2000 ]; do
	echo "INSERT INTO events(id, at, kind, detail) VALUES (lower(hex(randomblob(16))), '2026-11-27T09:00:00Z', 'survey', '{}');" >> "$work/inserts.sql"
	i=$((i+1))
done
start=$(date +%s%N); sqlite3 "$db" < "$work/inserts.sql"; end=$(date +%s%N)
echo "anchor: sqlite3 CLI $(( (end-start)/2000/1000 )) µs per durable insert"

section "export of 1,000,000 events to NDJSON" "sqlite3 -json over the same rows" "no slower than the anchor; under 2 s"
mkdir -p "$work/big"
BORNE_BENCH_DIR="$work/big" gobench ./usage -bench 'Export1M' -benchtime 1x -timeout 20m
if [ -f "$work/big/usage-1m.db" ]; then
	start=$(date +%s%N); sqlite3 -json "$work/big/usage-1m.db" 'SELECT * FROM events' > /dev/null; end=$(date +%s%N)
	echo "anchor: sqlite3 -json $(( (end-start)/1000000 )) ms"
fi

section "the usage log's other paths" "-" "sync of 100,000 under 5 s; stats over a year under 200 ms"
gobench ./usage -bench 'Sync|Stats' -benchtime 1x -timeout 20m

section "one maintenance PIN check (argon2id, 19 MiB)" "-" "between 50 and 500 ms"
gobench ./config -bench VerifyPIN -benchtime 20x

section "opening hours: next opening" "-" "-"
gobench ./operators -bench NextOpening

section "the Département's collector: 1,000,000 events from 30 kiosks at once (SQLite, PostgreSQL)" \
	"the engine's own bulk load of the same rows, same run: sqlite3 .import, psql \\copy" "at least half the anchor's rate"
gobench ./collect -bench Ingest1M -benchtime 1x -timeout 40m

section "the collector's stats and fleet over a year of 30 kiosks (3,000,000 events, PostgreSQL and SQLite)" "-" "under 1 s"
gobench ./collect -bench FleetYear -benchtime 1x -timeout 40m

section "the collector: reading and checking one batch of 1,000 events" "-" "-"
gobench ./collect -bench ParseBatch -benchtime 200x
