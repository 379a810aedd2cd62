#!/usr/bin/env bash
# headless-dns under pod churn, against Knot DNS receiving the same changes by dynamic update,
# in the same run: 100,000 pods, pod IPs changed at 0, 100 and 1,000 a second, 20,000 QPS.
# It measures issue #28's target: "Under 1,000 changes a second at 100k pods and 20k QPS:
# query p99 <= 0.5 ms and p99.9 <= 2 ms, index CPU <= 5 % of a core, no SERVFAIL, no NXDOMAIN
# for names that exist" and "the response-cache hit ratio for unchanged names stays >= 95 %".
#
# usage: bench/churn.sh            (see bench/README.md; tunables are env variables)
#
#   RATES="0 100 1000"   churn rates to run, pod IP changes a second, one phase each
#   DURATION=20          seconds per dnsperf run (-l); each phase runs it against
#                        headless-dns, then against Knot
#   QPS=20000            dnsperf -Q (the query rate asked for)
#   CLIENTS=4            dnsperf -c: its sockets, spread over the server's UDP workers by
#                        SO_REUSEPORT, so that every worker (each has its own response
#                        cache) is warmed by the rate-0 phase; with one socket, a later run
#                        may land on a cold worker and count every first question as a miss
#   QUERIES=             only the first N lines of the query file (default: all of it, ~88,000
#                        lines, ~68,000 distinct questions at 100k pods)
#   SETTLE=2             seconds between setting a rate and the first dnsperf run
#   SEED=1               the fake API server's --churn-seed (which pods change)
#   SERVICES=10000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   KEEP_WORKLOAD=DIR    reuse/keep the generated workload (manifests, zone files, queries)
#                        in DIR; a manifests-only one (memory.sh, axfr.sh) gets the rest
#   DNSPERF_OPTS=""      extra dnsperf options
#   PORT_HDNS=15373 ADMIN_PORT=15391 PORT_KNOT=15374
#   BIN=target/dist/headless-dns
#   API_BIN=target/dist/examples/fake_apiserver   (cargo build --profile dist --example fake_apiserver)
#   HDNS_ARGS=""         extra `headless-dns serve` arguments (e.g. "--udp-workers 1")
#
# The objects come from the crate's fake Kubernetes API server (its own process) in churn
# mode: `rate R` on its stdin makes it change R pod IPs a second (a MODIFIED watch event
# each) and print a `change NS POD SERVICE OLD NEW` line for each; headless-dns watches it,
# and bench/ddns.py sends the same changes to Knot as RFC 2136 UPDATEs. headless-dns gets
# the churn throughout every phase; Knot only while it is measured: its update work takes
# most of a core at 100 changes a second, and on two cores it would otherwise delay the
# answers of the server being measured (the changes made meanwhile are held back from
# Knot; its pod names are replaced whole, so it stays right). dnsperf queries one server
# at a time. The queries are
# gen.py's without the search-path NXDOMAIN names, so every name exists: an NXDOMAIN is a
# failure. Everything shares the machine's cores: dnsperf, both servers, the fake API server
# and the update driver.
#
# Writes everything to bench/results/<UTC timestamp>-churn/ and the summary table to stdout
# (python3 bench/churn_summary.py DIR prints it again).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
API_BIN="${API_BIN:-$ROOT/target/dist/examples/fake_apiserver}"
RATES="${RATES:-0 100 1000}"
DURATION="${DURATION:-20}"
QPS="${QPS:-20000}"
CLIENTS="${CLIENTS:-4}"
SETTLE="${SETTLE:-2}"
SEED="${SEED:-1}"
SERVICES="${SERVICES:-10000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
DNSPERF_OPTS="${DNSPERF_OPTS:-}"
QUERIES="${QUERIES:-}"
PORT_HDNS="${PORT_HDNS:-15373}"
PORT_KNOT="${PORT_KNOT:-15374}"
ADMIN_PORT="${ADMIN_PORT:-15391}"
HDNS_ARGS="${HDNS_ARGS:-}"
TIMEOUT="${TIMEOUT:-300}"

require_tools "Debian: dnsperf, bind9-dnsutils, knot" dnsperf dig knotd knotc python3 gzip
require_server "$BIN" --kubeconfig
[[ -x "$API_BIN" ]] || { echo "no fake API server at $API_BIN (cargo build --profile dist --example fake_apiserver)" >&2; exit 2; }
"$API_BIN" --help 2>&1 | grep -q -- '--churn-seed' \
  || { echo "$API_BIN has no --churn-seed (rebuild it: cargo build --profile dist --example fake_apiserver)" >&2; exit 2; }
require_free_ports "$PORT_HDNS" "$PORT_KNOT" "$ADMIN_PORT"

start_run churn
API_PID="" HDNS_PID="" KNOT_PID="" DDNS_PID=""
cleanup() {
  exec 7>&- 2>/dev/null || true
  [[ -n "$DDNS_PID" ]] && stop_process "$DDNS_PID" 100
  [[ -n "$HDNS_PID" ]] && stop_process "$HDNS_PID" 50
  [[ -n "$KNOT_PID" ]] && stop_process "$KNOT_PID" 50
  [[ -n "$API_PID" ]] && stop_process "$API_PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK="$(getconf CLK_TCK)"
# Machine-wide busy and total ticks (all cores) from /proc/stat: "busy total".
# Saves headless-dns's /metrics into a file.
scrape() {
  python3 -c 'import sys, urllib.request
open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' \
    "http://127.0.0.1:$ADMIN_PORT/metrics" "$1"
}
# utime + stime of every process of the run but dnsperf, in ticks.
ours_ticks() {
  local pid total=0 u s
  for pid in "$HDNS_PID" "$KNOT_PID" "$API_PID" "$DDNS_PID"; do
    read -r u s < <(ticks "$pid")
    total=$((total + u + s))
  done
  echo "$total"
}
# Every process's "pid ticks comm" (utime + stime of all its threads) into a file.
proc_snapshot() {
  python3 - "$1" <<'PY'
import os, sys
with open(sys.argv[1], "w") as out:
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            f = s[s.rindex(")") + 2:].split()
            out.write(f"{d} {int(f[11]) + int(f[12])} {s[s.index('(') + 1:s.rindex(')')]}\n")
PY
}
# The processes other than ours that used the most CPU between two snapshots:
# "ticks pid comm" lines, most first.
others() { # before after
  python3 - "$1" "$2" "$HDNS_PID" "$KNOT_PID" "$API_PID" "$DDNS_PID" <<'PY'
import sys
def load(path):
    return {int(l.split(" ", 2)[0]): (int(l.split(" ", 2)[1]), l.split(" ", 2)[2].strip()) for l in open(path)}
before, after = load(sys.argv[1]), load(sys.argv[2])
ours = {int(p) for p in sys.argv[3:]}
used = sorted(((t - before.get(pid, (0, ""))[0], pid, comm) for pid, (t, comm) in after.items()
               if pid not in ours and comm != "dnsperf"), reverse=True)
for ticks, pid, comm in used[:5]:
    if ticks > 0:
        print(ticks, pid, comm)
PY
}
alive() {
  local name pid
  for name in API HDNS KNOT DDNS; do
    pid="${name}_PID"
    kill -0 "${!pid}" 2>/dev/null || { echo "$name (pid ${!pid}) exited; see $RES" >&2; exit 1; }
  done
}

# --- workload --------------------------------------------------------------------------
use_workload "${KEEP_WORKLOAD:-$WORK/w}" "$RES" full
N_PODS="$(meta pods)"
LAST_POD="$(meta last_pod)"
LAST_IP="$(meta last_pod_ip)"
# Only names that exist: gen.py's queries without the search-path ones (NAME.svc.cluster.local
# followed by NS.svc.cluster.local).
grep -v 'svc\.cluster\.local\..*svc\.cluster\.local' "$W/queries.txt" >"$WORK/queries-all.txt"
head -n "${QUERIES:--0}" "$WORK/queries-all.txt" >"$WORK/queries.txt"
N_QUERIES="$(wc -l <"$WORK/queries.txt")"
N_DISTINCT="$(sort -u "$WORK/queries.txt" | wc -l)"
log "workload: $N_PODS pods; $N_QUERIES queries ($N_DISTINCT distinct), search-path names left out"

{
  echo "date: $TS"
  echo "host: $(uname -srm), $(nproc) cores"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "headless-dns: $BIN ($(stat -c '%y' "$BIN")) git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" status --porcelain -- src crates examples 2>/dev/null | grep -q . && echo ' +dirty')"
  echo "fake API server: $API_BIN ($(stat -c '%y' "$API_BIN"))"
  echo "knotd: $(knotd -V 2>&1 | head -1)"
  echo "dnsperf: $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?')"
  echo "rates: $RATES"
  echo "dnsperf args: -Q $QPS -c $CLIENTS -l $DURATION -v $DNSPERF_OPTS"
  echo "settle: $SETTLE s, seed: $SEED"
  echo "headless-dns extra args: ${HDNS_ARGS:-none}"
  echo "workload: $SERVICES services x $PODS pods, $NAMESPACES namespaces ($N_PODS pods)"
  echo "queries: $N_QUERIES ($N_DISTINCT distinct), search-path NXDOMAIN names left out"
} >"$RES/env.txt"

# --- the fake API server, in churn mode --------------------------------------------------
# Its stdin is a FIFO the script keeps open (fd 7) to send `rate R`; its stdout, the `ready`,
# `rate` and `change` lines, goes to fake-apiserver.out, which ddns.py follows.
log "loading $N_PODS pods into the fake API server (churn seed $SEED)"
start_fake_api "$W/manifests" "$RES/fake-apiserver" "$SEED"

# --- headless-dns -------------------------------------------------------------------------
log "starting headless-dns against it"
# shellcheck disable=SC2086
"$BIN" serve --kubeconfig "$KUBECONFIG_PATH" --listen "127.0.0.1:$PORT_HDNS" \
  --admin "127.0.0.1:$ADMIN_PORT" --lameduck 0 $HDNS_ARGS >"$RES/headless-dns.log" 2>&1 &
HDNS_PID=$!
deadline=$((SECONDS + TIMEOUT))
until python3 -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).status != 200)' "http://127.0.0.1:$ADMIN_PORT/ready" 2>/dev/null \
  && dig @127.0.0.1 -p "$PORT_HDNS" +norec +time=1 +tries=1 +short "$LAST_POD" A 2>/dev/null | grep -qx -- "$LAST_IP"; do
  ((SECONDS < deadline)) || { echo "headless-dns was not ready within $TIMEOUT s; see $RES" >&2; exit 1; }
  kill -0 "$HDNS_PID" 2>/dev/null || { echo "headless-dns exited; see $RES/headless-dns.log" >&2; exit 1; }
  sleep 0.2
done
INDEX_TID=""
for t in /proc/"$HDNS_PID"/task/*; do
  [[ "$(cat "$t/comm" 2>/dev/null)" == index ]] && INDEX_TID="${t##*/}"
done
[[ -n "$INDEX_TID" ]] || { echo "headless-dns has no thread named index" >&2; exit 1; }
log "headless-dns is ready (index thread $INDEX_TID)"

# --- Knot DNS, with dynamic updates from 127.0.0.1 -----------------------------------------
# The zone files are copied: Knot never writes them back (zonefile-sync: -1), but the
# workload may be a kept one. Logging at notice: at info Knot logs every update (two lines
# each), which would be part of its CPU figures.
KD="$WORK/knot"
mkdir -p "$KD/run" "$KD/db" "$KD/zones"
cp "$W/zones/cluster.local.zone" "$W/zones/in-addr.arpa.zone" "$KD/zones/"
cat >"$KD/knot.conf" <<EOF
server:
    rundir: "$KD/run"
    listen: 127.0.0.1@$PORT_KNOT
database:
    storage: "$KD/db"
log:
  - target: "$KD/knot.log"
    any: notice
acl:
  - id: update-local
    address: 127.0.0.1
    action: update
template:
  - id: default
    storage: "$KD/zones"
    file: "%s.zone"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    acl: update-local
zone:
  - domain: cluster.local.
  - domain: in-addr.arpa.
EOF
cp "$KD/knot.conf" "$RES/knot.conf"
knotc -c "$KD/knot.conf" conf-check >/dev/null
log "starting knotd"
knotd -c "$KD/knot.conf" >"$RES/knot.stderr" 2>&1 &
KNOT_PID=$!
deadline=$((SECONDS + TIMEOUT))
until dig @127.0.0.1 -p "$PORT_KNOT" +norec +time=1 +tries=1 +short "$LAST_POD" A 2>/dev/null | grep -qx -- "$LAST_IP" \
  && dig @127.0.0.1 -p "$PORT_KNOT" +norec +time=1 +tries=1 in-addr.arpa. SOA 2>/dev/null | grep -q 'status: NOERROR'; do
  ((SECONDS < deadline)) || { echo "knotd did not load the zones within $TIMEOUT s; see $RES" >&2; exit 1; }
  kill -0 "$KNOT_PID" 2>/dev/null || { echo "knotd exited; see $RES/knot.stderr" >&2; exit 1; }
  sleep 0.2
done
log "knotd answers; comparing answers before the churn"
python3 "$HERE/compare.py" "$W/samples.txt" "headless-dns=$PORT_HDNS" "knot=$PORT_KNOT" \
  >"$RES/compare-before.txt" 2>&1 || true
log "  answers identical for $(grep -c '^OK' "$RES/compare-before.txt") of $(grep -c . "$W/samples.txt") sample questions (compare-before.txt)"

python3 "$HERE/ddns.py" --follow "$RES/fake-apiserver.out" --port "$PORT_KNOT" \
  --out "$RES/ddns.tsv" >"$RES/ddns.out" 2>&1 &
DDNS_PID=$!

# --- the phases ---------------------------------------------------------------------------
printf 'rate\tserver\tt0\tt1\tticks\tuser_ticks\tsystem_ticks\tclk_tck\tsys_busy\tsys_total\tpeer_ticks\tours_ticks\tdnsperf_cpu_s\tdnsperf\tmetrics_before\tmetrics_after\tsteal_ticks\n' >"$RES/runs.tsv"
printf 'rate\tt0\tt1\tindex_ticks\tapi_ticks\tddns_ticks\tclk_tck\tmetrics_start\tmetrics_end\n' >"$RES/phases.tsv"
acks=0
for rate in $RATES; do
  alive
  echo "rate $rate" >&7
  acks=$((acks + 1))
  deadline=$((SECONDS + 30))
  until (($(grep -c '^rate ' "$RES/fake-apiserver.out") >= acks)); do
    ((SECONDS < deadline)) || { echo "the fake API server did not take 'rate $rate'" >&2; exit 1; }
    sleep 0.05
  done
  log "rate $rate changes/s: settling $SETTLE s"
  sleep "$SETTLE"
  p0="$EPOCHREALTIME"
  read -r iu0 is0 < <(ticks "$HDNS_PID/task/$INDEX_TID")
  read -r au0 as0 < <(ticks "$API_PID")
  read -r du0 ds0 < <(ticks "$DDNS_PID")
  scrape "$RES/metrics-r$rate-start.txt"
  for s in headless-dns knot; do
    if [[ "$s" == knot ]]; then
      port="$PORT_KNOT" pid="$KNOT_PID" peer="$HDNS_PID"
    else
      port="$PORT_HDNS" pid="$HDNS_PID" peer="$KNOT_PID"
    fi
    out="$WORK/dnsperf-$s-r$rate.txt"
    mb="-" ma="-"
    [[ "$s" == headless-dns ]] && { mb="metrics-r$rate-$s-before.txt"; scrape "$RES/$mb"; kill -USR1 "$DDNS_PID"; }
    proc_snapshot "$WORK/procs-before"
    read -r sb0 st0 < <(sys_ticks)
    steal0="$(steal_ticks)"
    read -r u0 s0 < <(ticks "$pid")
    read -r pu0 ps0 < <(ticks "$peer")
    o0="$(ours_ticks)"
    t0="$EPOCHREALTIME"
    # shellcheck disable=SC2086
    run_timed "$WORK/dnsperf-cpu" "$out" \
      timeout $((DURATION + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" -Q "$QPS" -c "$CLIENTS" \
      -l "$DURATION" -v $DNSPERF_OPTS
    t1="$EPOCHREALTIME"
    o1="$(ours_ticks)"
    read -r pu1 ps1 < <(ticks "$peer")
    read -r u1 s1 < <(ticks "$pid")
    read -r sb1 st1 < <(sys_ticks)
    steal1="$(steal_ticks)"
    proc_snapshot "$WORK/procs-after"
    others "$WORK/procs-before" "$WORK/procs-after" >"$RES/others-r$rate-$s.txt"
    [[ "$s" == headless-dns ]] && { kill -USR1 "$DDNS_PID"; ma="metrics-r$rate-$s-after.txt"; scrape "$RES/$ma"; }
    alive
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rate" "$s" "$t0" "$t1" \
      "$((u1 + s1 - u0 - s0))" "$((u1 - u0))" "$((s1 - s0))" "$CLK_TCK" "$((sb1 - sb0))" "$((st1 - st0))" \
      "$((pu1 + ps1 - pu0 - ps0))" "$((o1 - o0))" "$(cat "$WORK/dnsperf-cpu")" "dnsperf-$s-r$rate.txt.gz" "$mb" "$ma" \
      "$((steal1 - steal0))" >>"$RES/runs.tsv"
    log "rate $rate $s: $(awk '/Queries per second/ {print $4}' "$out") QPS, $(grep -m1 'Response codes' "$out" | sed 's/^ *Response codes: *//')"
    gzip -c "$out" >"$RES/dnsperf-$s-r$rate.txt.gz"
    rm -f "$out"
  done
  p1="$EPOCHREALTIME"
  read -r iu1 is1 < <(ticks "$HDNS_PID/task/$INDEX_TID")
  read -r au1 as1 < <(ticks "$API_PID")
  read -r du1 ds1 < <(ticks "$DDNS_PID")
  scrape "$RES/metrics-r$rate-end.txt"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rate" "$p0" "$p1" "$((iu1 + is1 - iu0 - is0))" \
    "$((au1 + as1 - au0 - as0))" "$((du1 + ds1 - du0 - ds0))" "$CLK_TCK" \
    "metrics-r$rate-start.txt" "metrics-r$rate-end.txt" >>"$RES/phases.tsv"
done

# --- after the churn: do both servers answer the last changes? ----------------------------
echo "rate 0" >&7
sleep 2
alive
log "checking the last changed pods on both servers"
python3 - "$RES/fake-apiserver.out" "$PORT_HDNS" "$PORT_KNOT" >"$RES/check-after.txt" <<'PY' || true
import subprocess, sys
last = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 6 and p[0] == "change":
        last.pop((p[1], p[2], p[3]), None)
        last[(p[1], p[2], p[3])] = p[5]
pods = list(last.items())[-50:]


def ask(port, qname, qtype):
    return subprocess.run(["dig", "@127.0.0.1", "-p", port, "+norec", "+time=2", "+tries=2", "+short", qname, qtype],
                          capture_output=True, text=True).stdout.split()


bad = 0
for (ns, pod, svc), ip in pods:
    name = f"{pod}.{svc}.{ns}.svc.cluster.local."
    rev = ".".join(reversed(ip.split("."))) + ".in-addr.arpa."
    for server, port in (("headless-dns", sys.argv[2]), ("knot", sys.argv[3])):
        a, ptr = ask(port, name, "A"), ask(port, rev, "PTR")
        if a != [ip] or ptr != [name]:
            bad += 1
            print(f"MISMATCH {server} {name} want {ip}: A {a}, PTR of {ip} {ptr}")
print(f"the last {len(pods)} changed pods on both servers: {bad} mismatches")
PY
log "  $(tail -1 "$RES/check-after.txt")"

exec 7>&-
stop_process "$DDNS_PID" 100
DDNS_PID=""
log "knot updates: $(cat "$RES/ddns.out")"
cp "$KD/knot.log" "$RES/knot.log" 2>/dev/null || true
stop_process "$HDNS_PID" 50
HDNS_PID=""
stop_process "$KNOT_PID" 50
KNOT_PID=""
stop_process "$API_PID" 50
API_PID=""

python3 "$HERE/churn_summary.py" "$RES" | tee "$RES/summary.txt"
echo "raw outputs: $RES"
