#!/usr/bin/env bash
# The index thread's CPU under pod churn, without queries: what a pod event costs the
# server's single writer, apart from the query load bench/churn.sh adds. Compares builds
# in one run, interleaved, because the figure moves by about ±10 % from run to run.
#
# usage: bench/index_cpu.sh BIN [BIN...]
#   RATE=1000            pod IP changes a second (the fake API server's churn mode)
#   DURATION=15          seconds measured per run, after SETTLE seconds at that rate
#   SETTLE=5
#   ROUNDS=3             runs per build, in the order BIN1 BIN2 ... BIN1 BIN2 ...
#   SERVICES=10000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   KEEP_WORKLOAD=DIR    reuse/keep the generated manifests in DIR
#   API_BIN=target/dist/examples/fake_apiserver   (cargo build --profile dist --example fake_apiserver)
#   PORT=15392 ADMIN_PORT=15393
#   PERF=1               also record the index thread of each run with `perf record
#                        --call-graph dwarf` into bench/results/<time>-index-cpu/ (Debian linux-perf)
#
# Each run starts the fake API server on the workload and headless-dns watching it, waits
# until it is ready, sets the churn rate, and reads the CPU (user + system) of the thread
# named `index` and of the whole headless-dns process from /proc over DURATION seconds,
# and the machine's steal time (see lib.sh's steal_ticks). Prints one line per run and
# the median per build.
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
API_BIN="${API_BIN:-$ROOT/target/dist/examples/fake_apiserver}"
RATE="${RATE:-1000}"
DURATION="${DURATION:-15}"
SETTLE="${SETTLE:-5}"
ROUNDS="${ROUNDS:-3}"
SERVICES="${SERVICES:-10000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
PORT="${PORT:-15392}"
ADMIN_PORT="${ADMIN_PORT:-15393}"
PERF="${PERF:-0}"
TIMEOUT="${TIMEOUT:-300}"

(($# > 0)) || { echo "usage: bench/index_cpu.sh BIN [BIN...]" >&2; exit 2; }
require_tools "" python3 curl
((PERF)) && require_tools "Debian linux-perf" perf
for bin in "$@"; do require_server "$bin" --kubeconfig; done
[[ -x "$API_BIN" ]] || { echo "no fake API server at $API_BIN (cargo build --profile dist --example fake_apiserver)" >&2; exit 2; }
require_free_ports "$PORT" "$ADMIN_PORT"

start_run index-cpu
API_PID="" HDNS_PID=""
cleanup() {
  exec 7>&- 2>/dev/null || true
  [[ -n "$HDNS_PID" ]] && stop_process "$HDNS_PID" 50
  [[ -n "$API_PID" ]] && stop_process "$API_PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_workload "${KEEP_WORKLOAD:-$WORK/w}" "$RES"
CLK_TCK="$(getconf CLK_TCK)"
# utime + stime of a process or thread (PID or PID/task/TID), in ticks.
cpu_ticks() {
  local user system
  read -r user system < <(ticks "$1")
  echo $((user + system))
}

# run BIN N: one measurement; sets RESULT to "index_percent process_percent".
run() {
  local bin="$1" n="$2" tid a0 p0 a1 p1 t0 t1 deadline
  start_fake_api "$W/manifests" "$RES/fake-apiserver-$n" 1
  deadline=$((SECONDS + TIMEOUT))
  "$bin" serve --kubeconfig "$KUBECONFIG_PATH" --listen "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN_PORT" \
    --lameduck 0 >"$RES/headless-dns-$n.log" 2>&1 &
  HDNS_PID=$!
  until curl -sf "http://127.0.0.1:$ADMIN_PORT/ready" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "$bin was not ready within $TIMEOUT s; see $RES" >&2; exit 1; }
    kill -0 "$HDNS_PID" 2>/dev/null || { echo "$bin exited; see $RES/headless-dns-$n.log" >&2; exit 1; }
    sleep 0.3
  done
  echo "rate $RATE" >&7
  sleep "$SETTLE"
  tid="$(grep -lx index /proc/"$HDNS_PID"/task/*/comm | head -1 | cut -d/ -f5)"
  a0="$(cpu_ticks "$HDNS_PID/task/$tid")" p0="$(cpu_ticks "$HDNS_PID")" t0="$(date +%s.%N)" s0="$(steal_ticks)"
  if ((PERF)); then
    perf record -q --call-graph dwarf,16384 -F 2000 -t "$tid" -o "$RES/perf-$n.data" -- sleep "$DURATION" 2>/dev/null
  else
    sleep "$DURATION"
  fi
  a1="$(cpu_ticks "$HDNS_PID/task/$tid")" p1="$(cpu_ticks "$HDNS_PID")" t1="$(date +%s.%N)" s1="$(steal_ticks)"
  stop_process "$HDNS_PID" 50
  HDNS_PID=""
  exec 7>&-
  stop_process "$API_PID" 50
  API_PID=""
  RESULT="$(python3 -c 'import os, sys; a, p, s, t0, t1, hz = map(float, sys.argv[1:]); w = t1 - t0; print(f"{100 * a / hz / w:.2f} {100 * p / hz / w:.2f} {100 * s / hz / w / os.cpu_count():.2f}")' \
    "$((a1 - a0))" "$((p1 - p0))" "$((s1 - s0))" "$t0" "$t1" "$CLK_TCK")"
}

log "$# build(s), $ROUNDS round(s), $RATE changes a second, $DURATION s each; results in $RES"
declare -A figures
n=0
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    n=$((n + 1))
    run "$bin" "$n"
    read -r index process steal <<<"$RESULT"
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$bin" "$index" "$process" "$steal" | tee -a "$RES/runs.tsv"
    figures[$bin]+="$index "
  done
done
echo
echo "index thread, % of a core at $RATE changes a second (median of $ROUNDS):"
for bin in "$@"; do
  python3 -c 'import statistics, sys; print(f"  {statistics.median(map(float, sys.argv[2:])):5.2f} %  {sys.argv[1]}")' \
    "$bin" ${figures[$bin]}
done
echo "columns: round, build, index thread and whole process in % of a core, steal in % of the"
echo "machine (the hypervisor serving other guests; above ~2 % the run shared its host)"
echo "raw outputs: $RES"
