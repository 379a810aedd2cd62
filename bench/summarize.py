#!/usr/bin/env python3
"""Summarize a bench/throughput.sh results directory (runs.tsv + dnsperf outputs).

usage: summarize.py RESULTS_DIR

One row per transport (udp, tcp), server and worker count (the median over rounds when
ROUNDS > 1), with the server's CPU per answered query split into user and kernel time, then
the headless-dns / Knot and headless-dns / NSD ratios of QPS and CPU per answered query.
Also reads bench/external_throughput.sh's results (servers `cluster` and `external`: the
two listeners of one process), and then prints the external / cluster ratios.
"""
import csv
import os
import re
import statistics
import sys


def parse_dnsperf(path):
    text = open(path).read()

    def num(pattern, default=None):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else default

    r = {
        "sent": num(r"Queries sent:\s+(\d+)", 0),
        "completed": num(r"Queries completed:\s+(\d+)", 0),
        "lost_pct": num(r"Queries lost:\s+\d+ \(([\d.]+)%\)", 100.0),
        "qps": num(r"Queries per second:\s+([\d.]+)", 0),
        "lat": num(r"Average Latency \(s\):\s+([\d.]+)", 0),
        "resp_size": num(r"Average packet size:\s+request \d+, response (\d+)", 0),
    }
    m = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = m.group(1).strip() if m else "?"
    return r


def main():
    res = sys.argv[1]
    rows = {}
    with open(os.path.join(res, "runs.tsv")) as f:
        for run in csv.DictReader(f, delimiter="\t"):
            d = parse_dnsperf(os.path.join(res, run["file"]))
            ticks, hz = int(run["ticks"]), int(run["clk_tck"])
            # CPU used during the run by everything except the server and dnsperf, as a
            # percentage of the whole machine (all cores): other load disturbing the run.
            try:
                other = int(run["sys_busy"]) - ticks - float(run["dnsperf_cpu_s"]) * hz
                d["other"] = max(0.0, other) / int(run["sys_total"]) * 100
                d["dnsperf_cpu"] = float(run["dnsperf_cpu_s"])
            except (KeyError, ValueError, ZeroDivisionError):
                d["other"] = d["dnsperf_cpu"] = float("nan")
            per_query = (1e6 / hz / d["completed"]) if d["completed"] else float("nan")
            d["cpu_us"] = ticks * per_query
            try:
                d["user_us"] = int(run["user_ticks"]) * per_query
                d["sys_us"] = int(run["system_ticks"]) * per_query
            except (KeyError, ValueError, TypeError):
                d["user_us"] = d["sys_us"] = float("nan")  # results of an older script
            mode = run.get("mode") or "udp"
            rows.setdefault((run["server"], mode, int(run["workers"])), []).append(d)

    med = {}
    for key, runs in rows.items():
        med[key] = {k: statistics.median(r[k] for r in runs) for k in
                    ("qps", "lost_pct", "lat", "cpu_us", "user_us", "sys_us", "resp_size", "completed", "other")}
        med[key]["rounds"] = len(runs)
        med[key]["rcodes"] = runs[-1]["rcodes"]

    env = os.path.join(res, "env.txt")
    if os.path.exists(env):
        for line in open(env):
            if line.startswith(("dnsperf args", "workload", "host")):
                print(line.rstrip())
    print()
    hdr = (f"{'server':<13} {'mode':<4} {'W':>2} {'QPS':>9} {'lost %':>7} {'avg lat ms':>10} {'CPU us/q':>9} "
           f"{'user':>6} {'kernel':>6} {'resp B':>6} {'other%':>6}  rcodes (last round)")
    print(hdr)
    print("-" * len(hdr))
    order = {"headless-dns": 0, "baseline": 1, "knot": 2, "nsd": 3, "cluster": 4, "external": 5}
    modes = {"udp": 0, "tcp": 1}
    for (server, mode, w) in sorted(med, key=lambda k: (modes.get(k[1], 9), k[2], order.get(k[0], 9), k[0])):
        m = med[(server, mode, w)]
        print(f"{server:<13} {mode:<4} {w:>2} {m['qps']:>9.0f} {m['lost_pct']:>7.2f} {m['lat'] * 1000:>10.3f} "
              f"{m['cpu_us']:>9.2f} {m['user_us']:>6.2f} {m['sys_us']:>6.2f} {m['resp_size']:>6.0f} "
              f"{m['other']:>6.1f}  {m['rcodes']}")
    def ratio(a, b):
        return a / b if b else float("nan")

    print()
    if any(k[0] == "headless-dns" for k in med):
        print("ratios (headless-dns / other; QPS > 1 and CPU < 1 favour headless-dns)")
    for mode, w in sorted({(k[1], k[2]) for k in med}, key=lambda k: (modes.get(k[0], 9), k[1])):
        x, c = med.get(("external", mode, w)), med.get(("cluster", mode, w))
        if x and c:
            print(f"  {mode} W={w}  external/cluster listener  QPS {ratio(x['qps'], c['qps']):.3f}   "
                  f"CPU per query {ratio(x['cpu_us'], c['cpu_us']):.3f} "
                  f"(user {ratio(x['user_us'], c['user_us']):.3f}, kernel {ratio(x['sys_us'], c['sys_us']):.3f})")
        h = med.get(("headless-dns", mode, w))
        if not h:
            continue
        for other in ("baseline", "knot", "nsd"):
            o = med.get((other, mode, w))
            if not o or not o["qps"]:
                continue
            print(f"  {mode} W={w}  headless-dns/{other:<5} QPS {ratio(h['qps'], o['qps']):.2f}   "
                  f"CPU per query {ratio(h['cpu_us'], o['cpu_us']):.2f} "
                  f"(user {ratio(h['user_us'], o['user_us']):.2f}, kernel {ratio(h['sys_us'], o['sys_us']):.2f})")
    busy = max(m["other"] for m in med.values())
    if busy > 5.0:
        print(f"WARNING: other processes used up to {busy:.0f}% of the machine during a run; QPS is then"
              " not comparable across servers (CPU per query mostly still is): re-run on a quiet machine")
    rounds = {m["rounds"] for m in med.values()}
    if rounds != {1}:
        print(f"(medians over {sorted(rounds)} rounds)")


if __name__ == "__main__":
    main()
