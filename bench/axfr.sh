#!/usr/bin/env bash
# AXFR of a large zone: how long a transfer of the whole cluster zone takes and how much
# memory the server needs for it, at 100,000 pods / 10,000 headless services by default.
#
# usage: bench/axfr.sh            (see bench/README.md; tunables are env variables)
#
#   SERVICES=10000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   ROUNDS=3             transfers timed (each a whole AXFR with kdig, over TCP)
#   PORT=15366 BIN=target/dist/headless-dns
#   KEEP_WORKLOAD=DIR    reuse/keep the generated manifests in DIR (generation takes ~30 s)
#
# Prints the records and messages of a transfer, seconds per transfer (min / median), the
# server's VmRSS when loaded and idle, and its VmHWM over the transfers (reset first via
# /proc/PID/clear_refs), i.e. what streaming the zone costs on top of serving it.
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
SERVICES="${SERVICES:-10000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-15366}"
TIMEOUT="${TIMEOUT:-300}"

require_tools "kdig: Debian knot-dnsutils" kdig dig python3
require_server "$BIN" --transfer-allow
require_free_ports "$PORT"

start_run axfr
PID=""
cleanup() {
  [[ -n "$PID" ]] && stop_process "$PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_workload "${KEEP_WORKLOAD:-$WORK/w}" "$RES"
LAST_POD="$(meta last_pod)"
LAST_IP="$(meta last_pod_ip)"

log "starting $BIN on $(meta pods) pods"
"$BIN" serve --manifests "$W/manifests" --listen "127.0.0.1:$PORT" --admin none --lameduck 0 \
  --transfer-allow 127.0.0.1/32 >"$RES/server.log" 2>&1 &
PID=$!
deadline=$((SECONDS + TIMEOUT))
until dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 +short "$LAST_POD" A 2>/dev/null | grep -qx -- "$LAST_IP"; do
  ((SECONDS < deadline)) || { echo "the last pod did not answer within $TIMEOUT s; see $RES" >&2; exit 1; }
  kill -0 "$PID" 2>/dev/null || { echo "headless-dns exited; see $RES/server.log" >&2; exit 1; }
  sleep 0.2
done
sleep 2
RSS="$(status_kb "$PID" VmRSS)"
echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || log "cannot reset VmHWM (clear_refs): the peak includes the load"

TIMES=()
for round in $(seq "$ROUNDS"); do
  start="$EPOCHREALTIME"
  kdig @127.0.0.1 -p "$PORT" +noall +answer +stats AXFR cluster.local. >"$RES/axfr-$round.txt" 2>&1
  TIMES+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')")
  log "AXFR $round: ${TIMES[-1]} s"
done
HWM="$(status_kb "$PID" VmHWM)"
RSS_AFTER="$(status_kb "$PID" VmRSS)"
RECEIVED="$(grep -m1 '^;; Received' "$RES/axfr-1.txt" || true)"
RECORDS="$(grep -vc '^;' "$RES/axfr-1.txt" || true)"
SORTED="$(printf '%s\n' "${TIMES[@]}" | sort -n)"
{
  echo "workload: $(meta services) services x $(meta pods_per_service) pods = $(meta pods) pods"
  echo "transfer: $RECEIVED ($RECORDS lines)"
  echo "AXFR seconds: min $(head -1 <<<"$SORTED"), median $(sed -n "$(((ROUNDS + 1) / 2))p" <<<"$SORTED") over $ROUNDS (kdig, loopback)"
  echo "VmRSS loaded, idle: $(mib "$RSS")"
  echo "VmHWM during the transfers: $(mib "$HWM") (+$(mib $((HWM - RSS))) over idle); VmRSS after: $(mib "$RSS_AFTER")"
} | tee "$RES/summary.txt"
