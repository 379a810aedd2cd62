# Shared by the benchmark scripts (sourced, not run): logging, the checks and directories a
# run starts with, starting the fake API server, /proc figures, stopping a process, and
# the 100k-pod workload of bench/gen.py, reused when KEEP_WORKLOAD holds it.

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN {printf "%.1f MiB", kb / 1024}'; }

# require_tools HINT TOOL...: exits 2 naming the first TOOL not on PATH (HINT: where to get
# them, or "").
require_tools() {
  local hint="$1" tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool${hint:+ ($hint)}" >&2; exit 2; }
  done
}

# require_server BIN [OPTION...]: exits 2 unless BIN is an executable whose `serve --help`
# names every OPTION (a headless-dns recent enough for the benchmark).
require_server() {
  local bin="$1" option
  shift
  [[ -x "$bin" ]] || { echo "no headless-dns binary at $bin (cargo build --profile dist)" >&2; exit 2; }
  for option in "$@"; do
    "$bin" serve --help 2>&1 | grep -q -- "$option" \
      || { echo "$bin does not look like headless-dns (serve --help has no $option)" >&2; exit 2; }
  done
}

# require_free_ports PORT...: exits 2 when something listens on one of them on 127.0.0.1.
require_free_ports() {
  local port
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use on 127.0.0.1" >&2
      exit 2
    fi
  done
}

# start_run [NAME]: sets TS (the UTC time), RES (bench/results/TS-NAME, created) and WORK
# (a new temporary directory).
start_run() {
  TS="$(date -u +%Y%m%dT%H%M%SZ)"
  RES="$HERE/results/$TS${1:+-$1}"
  mkdir -p "$RES"
  WORK="$(mktemp -d "/tmp/headless-dns-${1:-bench}.XXXXXX")"
}

# ticks PID | PID/task/TID: "utime stime" of a process (all its threads) or of one thread,
# in clock ticks.
ticks() { awk '{sub(/^.*\) /, ""); print $12, $13}' "/proc/$1/stat"; }

# start_fake_api MANIFESTS PREFIX [CHURN_SEED]: starts the fake API server (API_BIN) on a
# manifests directory and waits (TIMEOUT) for its `ready KUBECONFIG OBJECTS` line; sets
# API_PID, KUBECONFIG_PATH and API_OBJECTS. Its stdout (`ready`, `relisted`, `rate` and
# `change` lines) goes to PREFIX.out, its stderr to PREFIX.log. With CHURN_SEED it runs in
# churn mode, reading commands (`rate R`) from file descriptor 7, a FIFO this shell keeps
# open (close it with `exec 7>&-`).
start_fake_api() {
  local line deadline=$((SECONDS + TIMEOUT))
  mkdir -p "$WORK/kube"
  if [[ -n "${3:-}" ]]; then
    rm -f "$WORK/churn.fifo"
    mkfifo "$WORK/churn.fifo"
    "$API_BIN" --churn-seed "$3" "$1" "$WORK/kube" <"$WORK/churn.fifo" >"$2.out" 2>"$2.log" &
    API_PID=$!
    exec 7>"$WORK/churn.fifo"
  else
    "$API_BIN" "$1" "$WORK/kube" >"$2.out" 2>"$2.log" &
    API_PID=$!
  fi
  until line="$(grep -m1 '^ready ' "$2.out" 2>/dev/null)"; do
    ((SECONDS < deadline)) || { echo "the fake API server was not ready within $TIMEOUT s; see $2.log" >&2; exit 1; }
    kill -0 "$API_PID" 2>/dev/null || { echo "the fake API server exited; see $2.log" >&2; exit 1; }
    sleep 0.1
  done
  read -r _ KUBECONFIG_PATH API_OBJECTS <<<"$line"
}

# stop_process PID [TENTHS]: SIGTERM, up to TENTHS tenths of a second (default 100) to
# exit, then SIGKILL.
stop_process() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq "${2:-100}"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# use_workload DIR RES [full]: makes DIR hold SERVICES x PODS pods in NAMESPACES namespaces
# (reusing a matching one), copies its meta.json into RES, and sets W to DIR. With
# EXTERNAL_ZONE set, every Service is annotated for that external zone (gen.py
# --external-zone; a workload matches only with the same zone, or none). Only the
# manifests, unless `full`: then also gen.py's zone files and queries.txt (a matching
# workload without them is generated again, with them; gen.py is deterministic, so the
# manifests come out the same).
use_workload() {
  W="$1"
  local full="${3:-}" complete=1
  if [[ "$full" == full ]]; then
    [[ -f "$W/zones/cluster.local.zone" && -f "$W/zones/in-addr.arpa.zone" && -f "$W/queries.txt" ]] || complete=0
  fi
  if ((complete)) && [[ -f "$W/meta.json" ]] && python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(not (m["services"]==int(sys.argv[2]) and m["pods_per_service"]==int(sys.argv[3]) and m["namespaces"]==min(int(sys.argv[4]),int(sys.argv[2])) and m.get("external_zone","")==sys.argv[5].strip(".").lower()))' "$W/meta.json" "$SERVICES" "$PODS" "$NAMESPACES" "${EXTERNAL_ZONE:-}"; then
    log "reusing the workload in $W"
  elif [[ "$full" == full ]]; then
    log "generating $SERVICES services x $PODS pods in $NAMESPACES namespaces, with zone files and queries"
    python3 "$HERE/gen.py" --out "$W" --services "$SERVICES" --pods-per-service "$PODS" \
      --namespaces "$NAMESPACES" ${EXTERNAL_ZONE:+--external-zone "$EXTERNAL_ZONE"} 2>"$2/gen.log"
  else
    log "generating $SERVICES services x $PODS pods in $NAMESPACES namespaces${EXTERNAL_ZONE:+, annotated for $EXTERNAL_ZONE}"
    python3 "$HERE/gen.py" --out "$W" --services "$SERVICES" --pods-per-service "$PODS" \
      --namespaces "$NAMESPACES" --queries 0 --no-zones ${EXTERNAL_ZONE:+--external-zone "$EXTERNAL_ZONE"} 2>"$2/gen.log"
  fi
  cp "$W/meta.json" "$2/"
}

# meta KEY: a value of the workload's meta.json.
meta() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/meta.json" "$1"; }

# "utime stime", in clock ticks, of a process and all its descendants (NSD answers from
# forked server processes; threads are already included in their process's counters).
tree_ticks() {
  python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
stat, children = {}, {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        s = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    f = s[s.rindex(")") + 2:].split()
    pid, ppid = int(d), int(f[1])
    stat[pid] = (int(f[11]), int(f[12]))
    children.setdefault(ppid, []).append(pid)
user = system = 0
todo = [root]
while todo:
    p = todo.pop()
    u, s = stat.get(p, (0, 0))
    user, system = user + u, system + s
    todo.extend(children.get(p, []))
print(user, system)
EOF
}

# "busy total" clock ticks of the whole machine (the cpu line of /proc/stat).
sys_ticks() {
  awk '$1 == "cpu" {busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; print busy, total}' /proc/stat
}

# Clock ticks the hypervisor gave to others while this machine's CPUs wanted to run (the
# steal column of /proc/stat, all cores). A run with steal shared the host: its latency
# and CPU figures are not those of a quiet machine.
steal_ticks() {
  awk '$1 == "cpu" {print $9}' /proc/stat
}

# run_timed CPU_FILE OUT COMMAND...: runs COMMAND with its output in OUT and writes the CPU
# seconds it used (user + system, from rusage) into CPU_FILE, so that the CPU everything
# else used during the run can be told apart. Its exit status is ignored: OUT shows it.
run_timed() {
  python3 -c 'import resource, subprocess, sys
with open(sys.argv[2], "w") as out:
    subprocess.run(sys.argv[3:], stdout=out, stderr=subprocess.STDOUT)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{u.ru_utime + u.ru_stime:.3f}\n")' "$@" || true
}
