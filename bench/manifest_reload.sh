#!/usr/bin/env bash
# The CPU a manifest file rewritten over and over costs the server: a 2,000-pod file (one
# `kind: List`, as `kubectl get -o yaml` writes it, ~3.5 MB) rewritten in place RATE times
# a second for DURATION seconds, each rewrite changing one pod's IP (another pod each time).
#
# usage: bench/manifest_reload.sh          (tunables are env variables)
#
#   BIN=target/dist/headless-dns   the server to measure (compare builds with BIN=...)
#   RATE=5 DURATION=20             rewrites a second, and for how long
#   SERVICES=200 PODS=10           workload size (bench/gen.py, one namespace)
#   PORT=15364                     DNS port
#   KEEP_WORKLOAD=DIR              reuse/keep the generated manifests in DIR
#
# Prints the server's CPU time (user + system, from /proc/PID/stat) over the rewrites, as
# seconds, share of one core and milliseconds per rewrite, with the reloads it logged, and
# checks that the last rewrite is served.
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
RATE="${RATE:-5}"
DURATION="${DURATION:-20}"
SERVICES="${SERVICES:-200}"
PODS="${PODS:-10}"
NAMESPACES=1
PORT="${PORT:-15364}"

require_tools "" dig python3
require_server "$BIN"
require_free_ports "$PORT"

start_run manifest-reload
PID=""
cleanup() {
  [[ -n "$PID" ]] && stop_process "$PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_workload "${KEEP_WORKLOAD:-$WORK/w}" "$RES"
SOURCE="$W/manifests/ns-0.yaml"
FILE="$WORK/cluster.yaml"
cp "$SOURCE" "$FILE"
LAST_POD="$(meta last_pod)"
LAST_IP="$(meta last_pod_ip)"

EXTRA=(--admin none)
"$BIN" serve --help 2>&1 | grep -q -- '--lameduck' && EXTRA+=(--lameduck 0)
log "starting $BIN on $(( $(stat -c %s "$FILE") / 1024 )) KiB of manifests ($((SERVICES * PODS)) pods)"
RUST_LOG=info "$BIN" serve --manifests "$FILE" --listen "127.0.0.1:$PORT" "${EXTRA[@]}" >"$RES/headless-dns.log" 2>&1 &
PID=$!
deadline=$((SECONDS + 60))
until dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 +short "$LAST_POD" A 2>/dev/null | grep -qx -- "$LAST_IP"; do
  ((SECONDS < deadline)) || { echo "the server did not answer $LAST_POD within 60 s; see $RES" >&2; exit 1; }
  kill -0 "$PID" 2>/dev/null || { echo "the server exited; see $RES" >&2; exit 1; }
  sleep 0.1
done
sleep 2 # past the watcher's first look

# user + system clock ticks of PID.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"
BEFORE="$(cpu_ticks "$PID")"
log "rewriting the file $RATE times a second for $DURATION s"
# Each rewrite: the whole file, in place (truncate, write, close), one pod's IP changed;
# prints the last pod changed, its IP and the number of rewrites.
read -r NAME IP REWRITES < <(python3 - "$FILE" "$RATE" "$DURATION" <<'PY'
import re, sys, time
path, rate, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
text = open(path).read()
# (pod name, its IP) in file order.
pods = re.findall(r"\n    name: (app-\d+-\d+)\n(?:.*\n)*?    podIP: (\S+)\n", text)
start = time.monotonic()
k = 0
while True:
    at = start + k / rate
    if at - start >= duration:
        break
    time.sleep(max(0.0, at - time.monotonic()))
    name, old = pods[(k * 7919) % len(pods)]
    new = f"10.250.{k // 250}.{k % 250 + 1}"
    text = text.replace(f"podIP: {old}\n", f"podIP: {new}\n").replace(f"- ip: {old}\n", f"- ip: {new}\n")
    pods[(k * 7919) % len(pods)] = (name, new)
    with open(path, "w") as f:
        f.write(text)
    k += 1
print(name, new, k)
PY
)
sleep 1 # the last reload
AFTER="$(cpu_ticks "$PID")"
deadline=$((SECONDS + 10))
NS="$(awk -F. '{print $3}' <<<"$LAST_POD")"
QNAME="$NAME.${NAME%-*}.$NS.svc.cluster.local."
until dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 +short "$QNAME" A 2>/dev/null | grep -qx -- "$IP"; do
  ((SECONDS < deadline)) || { echo "the last rewrite ($QNAME $IP) is not served; see $RES" >&2; exit 1; }
  sleep 0.1
done
RELOADS="$(grep -c 'manifests reloaded' "$RES/headless-dns.log" || true)"
stop_process "$PID"
PID=""
{
  echo "headless-dns manifest rewrites: $($BIN --version 2>/dev/null || echo "$BIN")"
  echo "  file                      $(( $(stat -c %s "$FILE") / 1024 )) KiB, $((SERVICES * PODS)) pods (one kind: List)"
  echo "  rewrites                  $REWRITES ($RATE/s for $DURATION s), each changing one pod's IP; $RELOADS reloads logged"
  awk -v a="$BEFORE" -v b="$AFTER" -v t="$TICKS" -v d="$DURATION" -v n="$REWRITES" 'BEGIN {
    s = (b - a) / t
    printf "  server CPU                %.2f s (%.1f %% of a core), %.1f ms per rewrite\n", s, 100 * s / (d + 1), 1000 * s / n
  }'
  echo "  last rewrite served       $QNAME A $IP"
} | tee "$RES/summary.txt"
echo "raw outputs: $RES"
