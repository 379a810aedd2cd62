#!/usr/bin/env bash
# Throughput of headless-dns against Knot DNS and NSD serving the same records.
#
# usage: bench/throughput.sh            (see bench/README.md; tunables are env variables)
#
#   WORKERS="1 2"        worker counts to test (headless-dns --udp-workers and
#                        TOKIO_WORKER_THREADS, Knot udp-workers and tcp-workers, NSD server-count)
#   MODES="udp tcp"      transports to test (dnsperf -m udp / -m tcp)
#   SERVERS="headless-dns knot nsd"   which servers to run dnsperf against
#   DURATION=8           seconds per dnsperf run (-l)
#   ROUNDS=1             dnsperf runs per server and worker count (the table shows the median)
#   SERVICES=1000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   DUAL_STACK_EVERY=0   every K-th pod also gets an IPv6 address (gen.py --dual-stack-every)
#   CLIENTS=4 THREADS=1 OUTSTANDING=200   dnsperf -c / -T / -q
#   DNSPERF_OPTS=""      extra dnsperf options (e.g. "-e" for EDNS0)
#   PORT_HDNS=15353 PORT_KNOT=15354 PORT_NSD=15355 ADMIN_PORT=15380
#   BIN=target/dist/headless-dns
#   BASE_BIN=            another headless-dns build (say, the commit before a change), run
#                        as server "baseline" in the same interleaved rounds (PORT_BASE=15356)
#
# Writes everything to bench/results/<UTC timestamp>/ and the summary table to stdout.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh" # tree_ticks; its own helpers below take precedence
ROOT="$(dirname "$HERE")"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
WORKERS="${WORKERS:-1 2}"
MODES="${MODES:-udp tcp}"
SERVERS="${SERVERS:-headless-dns knot nsd}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-1}"
SERVICES="${SERVICES:-1000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
DUAL_STACK_EVERY="${DUAL_STACK_EVERY:-0}"
CLIENTS="${CLIENTS:-4}"
THREADS="${THREADS:-1}"
OUTSTANDING="${OUTSTANDING:-200}"
DNSPERF_OPTS="${DNSPERF_OPTS:-}"
PORT_HDNS="${PORT_HDNS:-15353}"
PORT_KNOT="${PORT_KNOT:-15354}"
PORT_NSD="${PORT_NSD:-15355}"
PORT_BASE="${PORT_BASE:-15356}"
BASE_BIN="${BASE_BIN:-}"
if [[ -n "$BASE_BIN" && "$SERVERS" != *baseline* ]]; then SERVERS="headless-dns baseline ${SERVERS#headless-dns }"; fi
ADMIN_PORT="${ADMIN_PORT:-15380}"

require_tools "" dnsperf dig knotd knotc nsd nsd-checkconf python3
require_server "$BIN" --manifests

start_run
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  PIDS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT_HDNS" "$PORT_KNOT" "$PORT_NSD" ${BASE_BIN:+"$PORT_BASE"}; do
  port_free "$p" || { echo "port $p is in use on 127.0.0.1" >&2; exit 2; }
done

# --- workload --------------------------------------------------------------------------
log "generating workload: $SERVICES services x $PODS pods in $NAMESPACES namespaces"
python3 "$HERE/gen.py" --out "$WORK/w" --services "$SERVICES" --pods-per-service "$PODS" \
  --namespaces "$NAMESPACES" --dual-stack-every "$DUAL_STACK_EVERY" 2>"$RES/gen.log"
cp "$WORK/w/meta.json" "$WORK/w/samples.txt" "$RES/"
FIRST_POD="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_pod"])' "$WORK/w/meta.json")"
LAST_POD="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_pod"])' "$WORK/w/meta.json")"
kzonecheck -o cluster.local. "$WORK/w/zones/cluster.local.zone" >"$RES/kzonecheck.txt" 2>&1 || true

# --- servers ---------------------------------------------------------------------------
# headless-dns: the admin HTTP server, if this build has one, is moved off its default port.
HDNS_EXTRA=()
if "$BIN" serve --help 2>&1 | grep -q -- '--admin'; then
  if "$BIN" serve --help 2>&1 | grep -A3 -- '--admin' | grep -qi 'none'; then
    HDNS_EXTRA=(--admin none)
  else
    HDNS_EXTRA=(--admin "127.0.0.1:$ADMIN_PORT")
  fi
fi
# No lameduck delay on SIGTERM (it keeps answering for 5 s by default before exiting).
if "$BIN" serve --help 2>&1 | grep -q -- '--lameduck'; then
  HDNS_EXTRA+=(--lameduck 0)
fi

start_hdns() { # workers [binary port name] -- sets HDNS_PID (BASE_PID for the baseline)
  local bin="${2:-$BIN}" port="${3:-$PORT_HDNS}" name="${4:-headless-dns}" extra=("${HDNS_EXTRA[@]}")
  # Each build gets its own admin port.
  if [[ "$name" == baseline && "${extra[0]:-}" == --admin && "${extra[1]:-}" != none ]]; then
    extra[1]="127.0.0.1:$((ADMIN_PORT + 1))"
  fi
  # TCP is served by the tokio runtime: as many runtime threads as UDP workers.
  TOKIO_WORKER_THREADS="$1" "$bin" serve --manifests "$WORK/w/manifests" --listen "127.0.0.1:$port" \
    --udp-workers "$1" "${extra[@]}" >"$RES/$name-w$1.log" 2>&1 &
  if [[ "$name" == baseline ]]; then BASE_PID=$!; else HDNS_PID=$!; fi
  PIDS+=("$!")
}

start_knot() { # workers
  local d="$WORK/knot-w$1"
  mkdir -p "$d/run" "$d/db"
  cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d/run"
    listen: 127.0.0.1@$PORT_KNOT
    udp-workers: $1
    tcp-workers: $1
    background-workers: 1
database:
    storage: "$d/db"
log:
  - target: "$d/knot.log"
    any: info
template:
  - id: default
    storage: "$WORK/w/zones"
    file: "%s.zone"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
# No mod-rrl: Knot has no rate limiting unless that module is configured.
zone:
  - domain: cluster.local.
  - domain: in-addr.arpa.
EOF
  [[ -f "$WORK/w/zones/ip6.arpa.zone" ]] && echo "  - domain: ip6.arpa." >>"$d/knot.conf"
  cp "$d/knot.conf" "$RES/knot-w$1.conf"
  knotc -c "$d/knot.conf" conf-check >/dev/null
  knotd -c "$d/knot.conf" >"$RES/knot-w$1.stderr" 2>&1 &
  KNOT_PID=$!
  PIDS+=("$KNOT_PID")
}

start_nsd() { # workers
  local d="$WORK/nsd-w$1"
  mkdir -p "$d"
  cat >"$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$PORT_NSD
    do-ip6: no
    server-count: $1
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$WORK/w/zones"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
    verbosity: 1
    # Knot and headless-dns add no NS RRset to the authority section of positive answers;
    # NSD does unless minimal-responses is on. Same answers, same bytes.
    minimal-responses: yes
RRL_LINES
remote-control:
    control-enable: no
zone:
    name: cluster.local.
    zonefile: cluster.local.zone
zone:
    name: in-addr.arpa.
    zonefile: in-addr.arpa.zone
EOF
  [[ -f "$WORK/w/zones/ip6.arpa.zone" ]] && printf 'zone:\n    name: ip6.arpa.\n    zonefile: ip6.arpa.zone\n' >>"$d/nsd.conf"
  # Rate limiting off, if this NSD was built with it (Debian's is: --enable-ratelimit).
  local rrl='    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0'
  sed -i "s/^RRL_LINES\$/$rrl/" "$d/nsd.conf"
  if ! nsd-checkconf "$d/nsd.conf" >"$RES/nsd-checkconf-w$1.txt" 2>&1; then
    sed -i '/rrl-/d' "$d/nsd.conf"
    nsd-checkconf "$d/nsd.conf"
  fi
  cp "$d/nsd.conf" "$RES/nsd-w$1.conf"
  nsd -d -c "$d/nsd.conf" >"$RES/nsd-w$1.stderr" 2>&1 &
  NSD_PID=$!
  PIDS+=("$NSD_PID")
}

wait_answer() { # name port qname qtype pid  -- until NOERROR with AA, 120 s at most
  local deadline=$((SECONDS + 120)) out
  while ((SECONDS < deadline)); do
    kill -0 "$5" 2>/dev/null || { echo "$1 exited during startup; see $RES" >&2; return 1; }
    out="$(dig @127.0.0.1 -p "$2" +norec +time=1 +tries=1 "$3" "$4" 2>/dev/null || true)"
    if grep -q 'status: NOERROR' <<<"$out" && grep -q 'flags:.* aa' <<<"$out"; then
      return 0
    fi
    sleep 0.2
  done
  echo "$1 did not answer $3 $4 within 120 s" >&2
  return 1
}

stop_pid() {
  local pid=$1 keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

CLK_TCK="$(getconf CLK_TCK)"

# Machine-wide busy and total ticks (all cores) from /proc/stat: "busy total".

server_port() {
  case "$1" in headless-dns) echo "$PORT_HDNS" ;; baseline) echo "$PORT_BASE" ;; knot) echo "$PORT_KNOT" ;; nsd) echo "$PORT_NSD" ;; esac
}
server_pid() {
  case "$1" in headless-dns) echo "$HDNS_PID" ;; baseline) echo "$BASE_PID" ;; knot) echo "$KNOT_PID" ;; nsd) echo "$NSD_PID" ;; esac
}

RUNS="$RES/runs.tsv"
printf 'server\tmode\tworkers\tround\tfile\tticks\tuser_ticks\tsystem_ticks\tclk_tck\tsys_busy\tsys_total\tdnsperf_cpu_s\n' >"$RUNS"
{
  echo "date: $TS"
  echo "host: $(uname -srm), $(nproc) cores"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "headless-dns: $BIN ($(stat -c '%y' "$BIN")) git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q . && echo '+dirty src')"
  if [[ -n "$BASE_BIN" ]]; then echo "baseline: $BASE_BIN ($(stat -c '%y' "$BASE_BIN"))"; fi
  echo "headless-dns extra args: ${HDNS_EXTRA[*]:-none}"
  echo "knotd: $(knotd -V 2>&1 | head -1)"
  echo "nsd: $(nsd -v 2>&1 | head -1)"
  echo "dnsperf: $(dnsperf -h 2>&1 | grep -m1 -i 'version' || dpkg-query -W -f '${Version}' dnsperf 2>/dev/null)"
  echo "modes: $MODES"
  echo "dnsperf args: -c $CLIENTS -T $THREADS -q $OUTSTANDING -l $DURATION $DNSPERF_OPTS"
  echo "workload: $SERVICES services x $PODS pods, $NAMESPACES namespaces"
} >"$RES/env.txt"

COMPARE_RC=0
for w in $WORKERS; do
  log "W=$w: starting headless-dns, knotd, nsd"
  start_hdns "$w"
  if [[ -n "$BASE_BIN" ]]; then start_hdns "$w" "$BASE_BIN" "$PORT_BASE" baseline; fi
  start_knot "$w"
  start_nsd "$w"
  t0=$SECONDS
  wait_answer headless-dns "$PORT_HDNS" "$LAST_POD" A "$HDNS_PID"
  if [[ -n "$BASE_BIN" ]]; then wait_answer baseline "$PORT_BASE" "$LAST_POD" A "$BASE_PID"; fi
  wait_answer knot "$PORT_KNOT" "$LAST_POD" A "$KNOT_PID"
  wait_answer knot "$PORT_KNOT" in-addr.arpa. SOA "$KNOT_PID"
  wait_answer nsd "$PORT_NSD" "$LAST_POD" A "$NSD_PID"
  wait_answer nsd "$PORT_NSD" in-addr.arpa. SOA "$NSD_PID"
  log "W=$w: all three answer (after $((SECONDS - t0)) s); comparing answers"
  python3 "$HERE/compare.py" "$WORK/w/samples.txt" \
    "headless-dns=$PORT_HDNS" "knot=$PORT_KNOT" "nsd=$PORT_NSD" >"$RES/compare-w$w.txt" 2>&1 \
    || COMPARE_RC=1
  grep -c '^OK' "$RES/compare-w$w.txt" | xargs -I{} echo "  answers identical for {} of $(grep -c . "$WORK/w/samples.txt") sample questions" >&2
  grep -A2 -E '^(DIFF|KNOWN)' "$RES/compare-w$w.txt" | sed 's/^/  /' >&2 || true

  # Interleaved: every round runs every mode against every server in turn.
  for round in $(seq "$ROUNDS"); do
   for mode in $MODES; do
    for s in $SERVERS; do
      port="$(server_port "$s")"
      pid="$(server_pid "$s")"
      out="$RES/dnsperf-$s-$mode-w$w-r$round.txt"
      sleep 1 # let the previous run's stragglers drain
      read -r sys_b0 sys_t0 < <(sys_ticks)
      read -r user0 system0 < <(tree_ticks "$pid")
      # shellcheck disable=SC2086
      run_timed "$WORK/dnsperf-cpu" "$out" \
        timeout $((DURATION + 30)) dnsperf -m "$mode" -s 127.0.0.1 -p "$port" -d "$WORK/w/queries.txt" \
        -c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -l "$DURATION" $DNSPERF_OPTS
      read -r user1 system1 < <(tree_ticks "$pid")
      read -r sys_b1 sys_t1 < <(sys_ticks)
      kill -0 "$pid" 2>/dev/null || { echo "$s died during the run; see $RES" >&2; exit 1; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$mode" "$w" "$round" \
        "$(basename "$out")" "$((user1 + system1 - user0 - system0))" "$((user1 - user0))" \
        "$((system1 - system0))" "$CLK_TCK" "$((sys_b1 - sys_b0))" "$((sys_t1 - sys_t0))" \
        "$(cat "$WORK/dnsperf-cpu")" >>"$RUNS"
      log "W=$w round $round $mode $s: $(grep -E 'Queries per second' "$out" | awk '{print $4}') QPS"
    done
   done
  done
  stop_pid "$HDNS_PID"
  if [[ -n "$BASE_BIN" ]]; then stop_pid "$BASE_PID"; fi
  stop_pid "$KNOT_PID"
  stop_pid "$NSD_PID"
done

python3 "$HERE/summarize.py" "$RES" | tee "$RES/summary.txt"
echo "raw outputs: $RES"
if ((COMPARE_RC)); then
  echo "NOTE: answers differed between servers for some sample questions: see $RES/compare-w*.txt"
fi
