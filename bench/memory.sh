#!/usr/bin/env bash
# Memory and startup time of headless-dns at scale: 100,000 pods / 10,000 headless services /
# 10,000 StatefulSets (by default), served from manifests or through a fake Kubernetes API server.
#
# usage: bench/memory.sh            (see bench/README.md; tunables are env variables)
#
#   MODE=manifests       where the objects come from: `manifests` (--manifests DIR) or
#                        `apiserver`: the same objects listed and watched from the crate's fake
#                        Kubernetes API server (--kubeconfig), run as its own process by
#                        target/dist/examples/fake_apiserver (build it first with
#                        `cargo build --profile dist --example fake_apiserver`, or --examples), then
#                        a relist after 410 Gone and the server's VmHWM during it
#   API_BIN=target/dist/examples/fake_apiserver   (MODE=apiserver)
#   RELIST=1             MODE=apiserver: also measure a relist (0: skip it)
#   STREAMING_LIST=      MODE=apiserver: headless-dns --streaming-list VALUE (auto, always,
#                        never; default: the server's default, paged lists)
#   SERVICES=10000 PODS=10 NAMESPACES=50   workload size (bench/gen.py)
#   UDP_WORKERS=         headless-dns --udp-workers (default: the server's own default)
#   EXTERNAL_ZONE=       e.g. example.com: every generated Service is annotated
#                        external-dns.alpha.kubernetes.io/hostname: app-<s>.ns-<n>.ZONE
#                        (gen.py --external-zone) and the server runs with --external-zone
#                        ZONE (the empty server too); the load is complete when the last
#                        pod's external name answers as well
#   EXTERNAL_LISTEN=     with EXTERNAL_ZONE: also --external-listen ADDR:PORT (default: none)
#   EXTERNAL_SERVE=1     0: generate the annotated workload but run the server WITHOUT
#                        --external-zone (what the annotations alone cost)
#   HDNS_ARGS=           extra `serve` arguments (word-split), e.g. "--external-zone example.com"
#   SETTLE=5             seconds to wait after the first complete answer before re-reading memory
#   PORT=15363 ADMIN_PORT=15381 BIN=target/dist/headless-dns
#   KEEP_WORKLOAD=DIR    reuse/keep the generated manifests in DIR (generation takes ~30 s)
#   FORMAT=yaml          `json`: serve the same objects as JSON files (`kubectl get -o json`),
#                        converted once with python3-yaml (~3 min at 100k pods; kept with
#                        KEEP_WORKLOAD); `stream`: as ONE multi-document YAML file, every
#                        object a `---`-separated document (what `helm template` and
#                        `kustomize build` write), converted once from the Lists (kept too)
#
# Prints VmRSS / VmHWM (from /proc/PID/status) of an empty server and of the loaded one,
# bytes per pod, and the time from process start until the LAST generated pod answers.
# MODE=apiserver also prints the fake API server's load time and VmRSS (its own process, not
# in the figures), and the server's VmHWM during a relist (reset first via clear_refs).
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN="${BIN:-$ROOT/target/dist/headless-dns}"
MODE="${MODE:-manifests}"
SERVICES="${SERVICES:-10000}"
PODS="${PODS:-10}"
NAMESPACES="${NAMESPACES:-50}"
UDP_WORKERS="${UDP_WORKERS:-}"
SETTLE="${SETTLE:-5}"
PORT="${PORT:-15363}"
ADMIN_PORT="${ADMIN_PORT:-15381}"
TIMEOUT="${TIMEOUT:-300}"
API_BIN="${API_BIN:-$ROOT/target/dist/examples/fake_apiserver}"
RELIST="${RELIST:-1}"

require_tools "" dig python3
require_server "$BIN" --manifests
if [[ "$MODE" == apiserver ]]; then
  [[ -x "$API_BIN" ]] || { echo "no fake API server at $API_BIN (cargo build --profile dist --example fake_apiserver)" >&2; exit 2; }
  require_server "$BIN" --kubeconfig
fi
require_free_ports "$PORT"

start_run memory
PID=""
API_PID=""
cleanup() {
  [[ -n "$PID" ]] && stop_process "$PID" 50
  [[ -n "$API_PID" ]] && stop_process "$API_PID" 50
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

EXTRA=()
if "$BIN" serve --help 2>&1 | grep -q -- '--admin'; then
  if "$BIN" serve --help 2>&1 | grep -A3 -- '--admin' | grep -qi 'none'; then
    EXTRA+=(--admin none)
  else
    EXTRA+=(--admin "127.0.0.1:$ADMIN_PORT")
  fi
fi
# No lameduck delay on SIGTERM (it keeps answering for 5 s by default before exiting).
if "$BIN" serve --help 2>&1 | grep -q -- '--lameduck'; then
  EXTRA+=(--lameduck 0)
fi
[[ -n "$UDP_WORKERS" ]] && EXTRA+=(--udp-workers "$UDP_WORKERS")
EXTERNAL_ZONE="${EXTERNAL_ZONE:-}"
EXTERNAL_LISTEN="${EXTERNAL_LISTEN:-}"
EXTERNAL_SERVE="${EXTERNAL_SERVE:-1}"
if [[ -n "$EXTERNAL_ZONE" && "$EXTERNAL_SERVE" != 0 ]]; then
  "$BIN" serve --help 2>&1 | grep -q -- '--external-zone' \
    || { echo "$BIN serve --help has no --external-zone" >&2; exit 2; }
  EXTRA+=(--external-zone "$EXTERNAL_ZONE")
  [[ -n "$EXTERNAL_LISTEN" ]] && EXTRA+=(--external-listen "$EXTERNAL_LISTEN")
elif [[ -n "$EXTERNAL_LISTEN" ]]; then
  echo "EXTERNAL_LISTEN needs EXTERNAL_ZONE (and EXTERNAL_SERVE=1)" >&2
  exit 2
fi
HDNS_ARGS="${HDNS_ARGS:-}"
# shellcheck disable=SC2206
[[ -n "$HDNS_ARGS" ]] && EXTRA+=($HDNS_ARGS)
STREAMING_LIST="${STREAMING_LIST:-}"
[[ -n "$STREAMING_LIST" && "$MODE" == apiserver ]] && EXTRA+=(--streaming-list "$STREAMING_LIST")


# --- workload --------------------------------------------------------------------------
use_workload "${KEEP_WORKLOAD:-$WORK/w}" "$RES"
N_PODS="$(meta pods)"
N_SVC="$(meta services)"
LAST_POD="$(meta last_pod)"
LAST_IP="$(meta last_pod_ip)"
MANIFEST_BYTES="$(meta manifest_bytes)"
MANIFESTS="$W/manifests"
LAST_POD_EXT=""
[[ -n "$EXTERNAL_ZONE" && "$EXTERNAL_SERVE" != 0 ]] && LAST_POD_EXT="$(meta external_last_pod)"
FORMAT="${FORMAT:-yaml}"
if [[ "$FORMAT" == json ]]; then
  MANIFESTS="$W/manifests-json"
  if [[ ! -d "$MANIFESTS" ]]; then
    log "converting the manifests to JSON (python3-yaml)"
    mkdir -p "$MANIFESTS.tmp"
    python3 - "$W/manifests" "$MANIFESTS.tmp" <<'PY'
import json, os, sys
import yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if name.endswith(".yaml"):
        with open(os.path.join(src, name)) as f, open(os.path.join(dst, name[:-5] + ".json"), "w") as out:
            json.dump(yaml.load(f, Loader=loader), out)
PY
    mv "$MANIFESTS.tmp" "$MANIFESTS"
  fi
  MANIFEST_BYTES="$(du -cb "$MANIFESTS"/*.json | tail -1 | cut -f1)"
elif [[ "$FORMAT" == stream ]]; then
  MANIFESTS="$W/manifests-stream"
  if [[ ! -d "$MANIFESTS" ]]; then
    log "converting the manifests to one multi-document YAML file"
    mkdir -p "$MANIFESTS.tmp"
    # gen.py writes block-style Lists: a 5-line header, then items `- ` at column 0 with
    # their lines indented by two. Each item becomes a document, in the same order, the
    # namespaces in numeric order (the last generated pod is the last document).
    python3 - "$W/manifests" "$MANIFESTS.tmp/cluster.yaml" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
with open(dst, "w") as out:
    names = [n for n in os.listdir(src) if n.startswith("ns-") and n.endswith(".yaml")]
    for name in sorted(names, key=lambda n: int(n[3:-5])):
        with open(os.path.join(src, name)) as f:
            lines = iter(f)
            for line in lines:
                if line == "items:\n":
                    break
            for line in lines:
                if line.startswith("- "):
                    out.write("---\n")
                out.write(line[2:])
PY
    mv "$MANIFESTS.tmp" "$MANIFESTS"
  fi
  MANIFEST_BYTES="$(du -cb "$MANIFESTS"/*.yaml | tail -1 | cut -f1)"
elif [[ "$FORMAT" != yaml ]]; then
  echo "unknown FORMAT=$FORMAT (yaml | json | stream)" >&2
  exit 2
fi

# Starts headless-dns on the given manifests; sets PID and START (EPOCHREALTIME just before exec).
start_manifests() { # manifests-path log-file
  START="$EPOCHREALTIME"
  "$BIN" serve --manifests "$1" --listen "127.0.0.1:$PORT" "${EXTRA[@]}" >"$2" 2>&1 &
  PID=$!
}

# Starts headless-dns against the fake API server; sets PID and START, like start_manifests.
start_kube() { # kubeconfig log-file
  START="$EPOCHREALTIME"
  "$BIN" serve --kubeconfig "$1" --listen "127.0.0.1:$PORT" "${EXTRA[@]}" >"$2" 2>&1 &
  PID=$!
}

# Polls QNAME A until the answer contains WANT; prints the seconds since START.
wait_for() { # qname want
  local deadline=$((SECONDS + TIMEOUT)) out
  while ((SECONDS < deadline)); do
    kill -0 "$PID" 2>/dev/null || { echo "headless-dns exited; see $RES" >&2; exit 1; }
    out="$(dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 +short "$1" A 2>/dev/null || true)"
    if grep -qx -- "$2" <<<"$out"; then
      awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}'
      return 0
    fi
    sleep 0.05
  done
  echo "no answer $2 for $1 within $TIMEOUT s" >&2
  exit 1
}

# SIGTERM, then SIGKILL after 10 s.

stop_server() {
  stop_process "$PID"
  PID=""
}

stop_api() {
  stop_process "$API_PID"
  API_PID=""
}

# Waits for the (empty) server to answer, then sets BASE_RSS and BASE_HWM.
measure_baseline() {
  local deadline=$((SECONDS + 30))
  until dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 cluster.local. SOA 2>/dev/null | grep -q 'status: NOERROR'; do
    ((SECONDS < deadline)) || { echo "empty server did not answer" >&2; exit 1; }
    kill -0 "$PID" 2>/dev/null || { echo "headless-dns exited; see $RES" >&2; exit 1; }
    sleep 0.1
  done
  sleep 1
  BASE_RSS="$(status_kb "$PID" VmRSS)"
  BASE_HWM="$(status_kb "$PID" VmHWM)"
}

# Waits for the last pod's answer (and, with EXTERNAL_ZONE, its external name's: ELAPSED_EXT)
# and settles; sets ELAPSED, RSS_READY, RSS, HWM, ANON and THREADS, and keeps sample answers
# and /proc/PID/status under $RES.
measure_loaded() {
  ELAPSED="$(wait_for "$LAST_POD" "$LAST_IP")"
  if [[ -n "$LAST_POD_EXT" ]]; then
    ELAPSED_EXT="$(wait_for "$LAST_POD_EXT" "$LAST_IP")"
  fi
  RSS_READY="$(status_kb "$PID" VmRSS)"
  log "last pod answered after ${ELAPSED} s; settling ${SETTLE} s"
  sleep "$SETTLE"
  # A handful of sample answers, to show the server really serves the set.
  {
    dig @127.0.0.1 -p "$PORT" +norec +short "$(meta first_pod)" A
    dig @127.0.0.1 -p "$PORT" +norec +short "$LAST_POD" A
    dig @127.0.0.1 -p "$PORT" +norec +short -x "$LAST_IP"
    if [[ -n "$LAST_POD_EXT" ]]; then
      dig @127.0.0.1 -p "$PORT" +norec +short "$(meta external_first_pod)" A
      dig @127.0.0.1 -p "$PORT" +norec +short "$LAST_POD_EXT" A
      dig @127.0.0.1 -p "$PORT" +norec +short "$(meta external_last_service)" A | wc -l
    fi
  } >"$RES/samples.txt" 2>&1
  RSS="$(status_kb "$PID" VmRSS)"
  HWM="$(status_kb "$PID" VmHWM)"
  ANON="$(status_kb "$PID" RssAnon)"
  THREADS="$(status_kb "$PID" Threads)"
  cp "/proc/$PID/status" "$RES/proc-status.txt"
}

case "$MODE" in
manifests)
  # 1. Baseline: the same server with an empty manifests directory.
  mkdir -p "$WORK/empty"
  start_manifests "$WORK/empty" "$RES/headless-dns-empty.log"
  measure_baseline
  stop_server

  # 2. The full workload, timed from process start to the last pod's answer.
  log "starting headless-dns on $N_PODS pods ($((MANIFEST_BYTES / 1048576)) MiB of $FORMAT)"
  start_manifests "$MANIFESTS" "$RES/headless-dns.log"
  measure_loaded
  stop_server
  ;;
apiserver)
  # The same measurement with the objects served by the crate's fake Kubernetes API server
  # (crates/fake-apiserver as the example fake_apiserver, its own process): the
  # real list/watch protocol, paginated lists, then watches. Then a relist (the API server
  # restarts with compacted history: every watch resumes with 410 Gone and lists again),
  # with the server's VmHWM reset just before it.
  # 1. Baseline: the same server against an empty fake API server.
  mkdir -p "$WORK/empty"
  start_fake_api "$WORK/empty" "$RES/fake-apiserver-empty"
  start_kube "$KUBECONFIG_PATH" "$RES/headless-dns-empty.log"
  measure_baseline
  stop_server
  stop_api

  # 2. The full workload, timed from the server's start (the fake API server already holds
  #    every object) to the last pod's answer.
  log "loading $N_PODS pods ($((MANIFEST_BYTES / 1048576)) MiB of $FORMAT) into the fake API server"
  API_START="$EPOCHREALTIME"
  start_fake_api "$MANIFESTS" "$RES/fake-apiserver"
  API_LOAD="$(awk -v a="$API_START" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')"
  API_RSS="$(status_kb "$API_PID" VmRSS)"
  log "fake API server ready after ${API_LOAD} s ($API_OBJECTS objects, VmRSS $(mib "$API_RSS")); starting headless-dns"
  start_kube "$KUBECONFIG_PATH" "$RES/headless-dns.log"
  measure_loaded

  # 3. A relist (kubernetes#139117): reset VmHWM to the current VmRSS, make the fake API
  #    server restart with compacted history (SIGUSR1), wait until it has served every list
  #    again and the watches resumed from the new resource version, settle, read VmHWM.
  if [[ "$RELIST" == 1 ]]; then
    if echo 5 >"/proc/$PID/clear_refs" 2>/dev/null; then
      RELIST_BASE="$(status_kb "$PID" VmRSS)"
      log "relist: restarting the fake API server with compacted history"
      kill -USR1 "$API_PID"
      deadline=$((SECONDS + TIMEOUT))
      until RELISTED="$(grep -m1 '^relisted ' "$RES/fake-apiserver.out")"; do
        ((SECONDS < deadline)) || { echo "no relist within $TIMEOUT s; see $RES" >&2; exit 1; }
        kill -0 "$API_PID" 2>/dev/null || { echo "the fake API server exited; see $RES" >&2; exit 1; }
        kill -0 "$PID" 2>/dev/null || { echo "headless-dns exited; see $RES" >&2; exit 1; }
        sleep 0.1
      done
      read -r _ RELIST_PAGES RELIST_SECONDS <<<"$RELISTED"
      log "relist: $RELIST_PAGES list pages in $RELIST_SECONDS s; settling ${SETTLE} s"
      sleep "$SETTLE"
      wait_for "$LAST_POD" "$LAST_IP" >/dev/null
      RELIST_HWM="$(status_kb "$PID" VmHWM)"
      RELIST_RSS="$(status_kb "$PID" VmRSS)"
      cp "/proc/$PID/status" "$RES/proc-status-relist.txt"
      RELIST_LINE="VmHWM $(mib "$RELIST_HWM") from VmRSS $(mib "$RELIST_BASE"), peak / steady $(awk -v a="$RELIST_HWM" -v b="$RELIST_BASE" 'BEGIN {printf "%.2f", a / b}'); VmRSS after $(mib "$RELIST_RSS"); $RELIST_PAGES list pages in $RELIST_SECONDS s"
    else
      RELIST_LINE="not measured (cannot write /proc/$PID/clear_refs to reset VmHWM)"
    fi
  fi
  API_HWM="$(status_kb "$API_PID" VmHWM)"
  stop_server
  stop_api
  ;;
*)
  echo "unknown MODE=$MODE (manifests | apiserver)" >&2
  exit 2
  ;;
esac

COREDNS_MB=$(( (N_PODS + N_SVC) / 1000 + 54 ))
{
  echo "headless-dns memory ($MODE): $N_PODS pods, $N_SVC headless services, $(meta statefulsets) StatefulSets, $(meta namespaces) namespaces"
  if [[ -n "$LAST_POD_EXT" ]]; then
    echo "  external zone             $EXTERNAL_ZONE: all $N_SVC services annotated (--external-zone $EXTERNAL_ZONE${EXTERNAL_LISTEN:+ --external-listen $EXTERNAL_LISTEN})"
  elif [[ -n "$EXTERNAL_ZONE" ]]; then
    echo "  external zone             none served: all $N_SVC services annotated for $EXTERNAL_ZONE, the server runs without --external-zone (EXTERNAL_SERVE=0)"
  fi
  [[ -n "$HDNS_ARGS" ]] && echo "  extra serve arguments     $HDNS_ARGS"
  echo "  manifests                 $(mib $((MANIFEST_BYTES / 1024))) of $FORMAT"
  echo "  empty server              VmRSS $(mib "$BASE_RSS"), VmHWM $(mib "$BASE_HWM")"
  echo "  at first complete answer  VmRSS $(mib "$RSS_READY")"
  printf '  %-26s' "after ${SETTLE} s"; echo "VmRSS $(mib "$RSS") (RssAnon $(mib "$ANON")), VmHWM $(mib "$HWM"), $THREADS threads"
  echo "  bytes per pod             $(( RSS * 1024 / N_PODS )) (VmRSS / pods), $(( (RSS - BASE_RSS) * 1024 / N_PODS )) above the empty server; VmHWM / pods $(( HWM * 1024 / N_PODS ))"
  echo "  start -> last pod answers ${ELAPSED} s  ($LAST_POD A $LAST_IP)"
  if [[ -n "$LAST_POD_EXT" ]]; then
    echo "  start -> its external name ${ELAPSED_EXT} s  ($LAST_POD_EXT A $LAST_IP)"
  fi
  echo "  CoreDNS (Scaling_CoreDNS.md formula, same object count): ~${COREDNS_MB} MB"
  if [[ "$MODE" == apiserver ]]; then
    echo "  fake API server           $API_OBJECTS objects loaded in ${API_LOAD} s; VmRSS $(mib "$API_RSS") when ready, VmHWM $(mib "$API_HWM") at the end (its own process, not in the figures above)"
    if [[ "$RELIST" == 1 ]]; then
      echo "  relist after 410 Gone     $RELIST_LINE"
    fi
  fi
} | tee "$RES/summary.txt"
echo "raw outputs: $RES"
