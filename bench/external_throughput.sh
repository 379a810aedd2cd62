#!/usr/bin/env bash
# CPU per answered query of the external listener (--external-listen, the external zone's
# names) against the cluster listener (--listen, the cluster names), in ONE headless-dns
# process, with interleaved dnsperf runs (cluster, external, cluster, external...).
#
# usage: bench/external_throughput.sh      (see bench/README.md; tunables are env variables)
#
#   EXTERNAL_ZONE=example.com   the external zone: gen.py --external-zone annotates every
#                        Service app-<s> in ns-<n> with hostname app-<s>.ns-<n>.ZONE and
#                        writes queries-external.txt (queries.txt with the names moved
#                        into ZONE, line for line)
#   WORKERS=1            headless-dns --udp-workers and TOKIO_WORKER_THREADS (each listener
#                        gets its own WORKERS UDP sockets and threads; TCP shares the runtime)
#   MODES="udp tcp"      transports (dnsperf -m)
#   DURATION=8           seconds per dnsperf run (-l)
#   ROUNDS=3             rounds; each runs every mode against the cluster listener, then the
#                        external one (the table shows medians)
#   SERVICES=1000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   CLIENTS=4 THREADS=1 OUTSTANDING=200   dnsperf -c / -T / -q (as throughput.sh)
#   DNSPERF_OPTS=""      extra dnsperf options (e.g. "-e" for EDNS0)
#   CHECK=2000           distinct question pairs compared before measuring (0: skip)
#   PORT=15383 PORT_EXTERNAL=15384   loopback ports of --listen and --external-listen
#   BIN=target/dist/headless-dns
#
# Writes bench/results/<UTC timestamp>-external/ (runs.tsv in throughput.sh's format, the
# servers named `cluster` and `external`) and prints the summary table (summarize.py).
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
EXTERNAL_ZONE="${EXTERNAL_ZONE:-example.com}"
WORKERS="${WORKERS:-1}"
MODES="${MODES:-udp tcp}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
SERVICES="${SERVICES:-1000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
CLIENTS="${CLIENTS:-4}"
THREADS="${THREADS:-1}"
OUTSTANDING="${OUTSTANDING:-200}"
DNSPERF_OPTS="${DNSPERF_OPTS:-}"
CHECK="${CHECK:-2000}"
PORT="${PORT:-15383}"
PORT_EXTERNAL="${PORT_EXTERNAL:-15384}"

require_tools "" dnsperf dig python3
require_server "$BIN" --external-listen
require_free_ports "$PORT" "$PORT_EXTERNAL"

start_run external
PID=""
cleanup() {
  [[ -n "$PID" ]] && stop_process "$PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- workload (zone files are not needed, queries are) ----------------------------------
log "generating $SERVICES services x $PODS pods in $NAMESPACES namespaces, annotated for $EXTERNAL_ZONE"
python3 "$HERE/gen.py" --out "$WORK/w" --services "$SERVICES" --pods-per-service "$PODS" \
  --namespaces "$NAMESPACES" --no-zones --external-zone "$EXTERNAL_ZONE" 2>"$RES/gen.log"
W="$WORK/w"
cp "$W/meta.json" "$RES/"
LAST_POD="$(meta last_pod)"
LAST_POD_EXT="$(meta external_last_pod)"
LAST_IP="$(meta last_pod_ip)"

# --- the server --------------------------------------------------------------------------
EXTRA=()
if "$BIN" serve --help 2>&1 | grep -A3 -- '--admin' | grep -qi 'none'; then
  EXTRA+=(--admin none)
fi
"$BIN" serve --help 2>&1 | grep -q -- '--lameduck' && EXTRA+=(--lameduck 0)
ARGS=(serve --manifests "$W/manifests" --listen "127.0.0.1:$PORT"
  --external-zone "$EXTERNAL_ZONE" --external-listen "127.0.0.1:$PORT_EXTERNAL"
  --udp-workers "$WORKERS" "${EXTRA[@]}")
TOKIO_WORKER_THREADS="$WORKERS" "$BIN" "${ARGS[@]}" >"$RES/headless-dns.log" 2>&1 &
PID=$!

wait_answer() { # port qname ip
  local deadline=$((SECONDS + 120))
  until dig @127.0.0.1 -p "$1" +norec +time=1 +tries=1 +short "$2" A 2>/dev/null | grep -qx -- "$3"; do
    ((SECONDS < deadline)) || { echo "no answer $3 for $2 on port $1 within 120 s; see $RES" >&2; exit 1; }
    kill -0 "$PID" 2>/dev/null || { echo "headless-dns exited; see $RES" >&2; exit 1; }
    sleep 0.2
  done
}
wait_answer "$PORT" "$LAST_POD" "$LAST_IP"
wait_answer "$PORT_EXTERNAL" "$LAST_POD_EXT" "$LAST_IP"
log "both listeners answer the last pod"

CHECK_RC=0
if ((CHECK > 0)); then
  python3 "$HERE/external_check.py" "$W/queries.txt" "$W/queries-external.txt" "$EXTERNAL_ZONE" \
    "$PORT" "$PORT_EXTERNAL" "$CHECK" >"$RES/check.txt" 2>&1 || CHECK_RC=1
  sed 's/^/  /' "$RES/check.txt" >&2
fi

CLK_TCK="$(getconf CLK_TCK)"

{
  echo "date: $TS"
  echo "host: $(uname -srm), $(nproc) cores"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "headless-dns: $BIN ($(stat -c '%y' "$BIN")) git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q . && echo '+dirty src')"
  echo "headless-dns args: ${ARGS[*]} (TOKIO_WORKER_THREADS=$WORKERS)"
  echo "dnsperf: $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?')"
  echo "modes: $MODES"
  echo "dnsperf args: -c $CLIENTS -T $THREADS -q $OUTSTANDING -l $DURATION $DNSPERF_OPTS"
  echo "workload: $SERVICES services x $PODS pods, $NAMESPACES namespaces, external zone $EXTERNAL_ZONE"
} >"$RES/env.txt"

RUNS="$RES/runs.tsv"
printf 'server\tmode\tworkers\tround\tfile\tticks\tuser_ticks\tsystem_ticks\tclk_tck\tsys_busy\tsys_total\tdnsperf_cpu_s\n' >"$RUNS"
for round in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    for listener in cluster external; do
      if [[ "$listener" == cluster ]]; then
        port="$PORT" queries="$W/queries.txt"
      else
        port="$PORT_EXTERNAL" queries="$W/queries-external.txt"
      fi
      out="$RES/dnsperf-$listener-$mode-w$WORKERS-r$round.txt"
      sleep 1 # let the previous run's stragglers drain
      read -r sys_b0 sys_t0 < <(sys_ticks)
      read -r user0 system0 < <(tree_ticks "$PID")
      # shellcheck disable=SC2086
      run_timed "$WORK/dnsperf-cpu" "$out" \
        timeout $((DURATION + 30)) dnsperf -m "$mode" -s 127.0.0.1 -p "$port" -d "$queries" \
        -c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -l "$DURATION" $DNSPERF_OPTS
      read -r user1 system1 < <(tree_ticks "$PID")
      read -r sys_b1 sys_t1 < <(sys_ticks)
      kill -0 "$PID" 2>/dev/null || { echo "headless-dns died during the run; see $RES" >&2; exit 1; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$listener" "$mode" "$WORKERS" "$round" \
        "$(basename "$out")" "$((user1 + system1 - user0 - system0))" "$((user1 - user0))" \
        "$((system1 - system0))" "$CLK_TCK" "$((sys_b1 - sys_b0))" "$((sys_t1 - sys_t0))" \
        "$(cat "$WORK/dnsperf-cpu")" >>"$RUNS"
      log "round $round $mode $listener: $(awk '/Queries per second/ {print $4}' "$out") QPS"
    done
  done
done
stop_process "$PID" 50
PID=""

python3 "$HERE/summarize.py" "$RES" | tee "$RES/summary.txt"
echo "raw outputs: $RES"
if ((CHECK_RC)); then
  echo "NOTE: the external listener's answers differ from the cluster listener's: see $RES/check.txt"
fi
