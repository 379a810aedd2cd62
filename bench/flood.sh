#!/usr/bin/env bash
# Flood: dnsperf at full rate against headless-dns for DURATION seconds (default 60), on
# loopback only, while sampling the server's memory every second. Shows that memory stays
# flat and that every well-formed query is still answered (dnsperf's "lost" count).
#
# usage: bench/flood.sh        (env: DURATION=60 WORKERS=2 SERVICES=1000 PODS=10 PORT=15363)
set -euo pipefail
export LC_ALL=C
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
DURATION="${DURATION:-60}"
WORKERS="${WORKERS:-2}"
SERVICES="${SERVICES:-1000}"
PODS="${PODS:-10}"
PORT="${PORT:-15363}"
WORK="$(mktemp -d /tmp/headless-dns-flood.XXXXXX)"
OUT="$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)-flood"
mkdir -p "$OUT"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 "$HERE/gen.py" --out "$WORK/w" --services "$SERVICES" --pods-per-service "$PODS" >/dev/null
"$BIN" serve --manifests "$WORK/w/manifests" --listen "127.0.0.1:$PORT" --udp-workers "$WORKERS" \
  --admin none --lameduck 0 2>"$OUT/server.log" &
SERVER_PID=$!
# Wait for the sync: until then the server rightly answers SERVFAIL (and dig exits 0).
for _ in $(seq 1 300); do
  [ -n "$(dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 cluster.local SOA 2>/dev/null)" ] && break
  sleep 0.1
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
echo "$(rss)" > "$OUT/rss.txt"
dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/w/queries.txt" -c 8 -T 2 -q 500 -l "$DURATION" > "$OUT/dnsperf.txt" 2>&1 &
PERF_PID=$!
while kill -0 "$PERF_PID" 2>/dev/null; do
  rss >> "$OUT/rss.txt"
  sleep 1
done
wait "$PERF_PID" || true
rss >> "$OUT/rss.txt"
# Still answering afterwards.
ANSWER="$(dig +short -p "$PORT" @127.0.0.1 app-0-0.app-0.ns-0.svc.cluster.local A)"
python3 - "$OUT" "$ANSWER" <<'PY'
import re, sys
out, answer = sys.argv[1], sys.argv[2]
rss = [int(x) for x in open(f"{out}/rss.txt").read().split()]
perf = open(f"{out}/dnsperf.txt").read()
get = lambda pat: (re.search(pat, perf) or [None, "?"])[1]
sent, done = get(r"Queries sent:\s+(\d+)"), get(r"Queries completed:\s+(\d+)")
lost, qps = get(r"Queries lost:\s+(\d+)"), get(r"Queries per second:\s+([\d.]+)")
first_10s = rss[1:11] or rss
print(f"flood: {len(rss) - 2} s at full rate, dnsperf -c 8 -T 2 -q 500")
print(f"  queries sent {sent}, completed {done}, lost {lost}")
print(f"  QPS {qps}")
print(f"  VmRSS KiB: before {rss[0]}, max during first 10 s {max(first_10s)}, max overall {max(rss)}, at end {rss[-1]}")
print(f"  growth after the first 10 s: {max(rss) - max(first_10s)} KiB")
print(f"  answer afterwards: {answer or 'NONE'}")
PY
echo "raw outputs: $OUT"
