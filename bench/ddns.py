#!/usr/bin/env python3
"""Send the fake API server's pod IP changes to a DNS server as RFC 2136 dynamic updates.

usage: ddns.py --follow FILE --port PORT --out TSV [--server 127.0.0.1] [--zone cluster.local]

Follows FILE (the stdout of `fake_apiserver --churn-seed N`, as `tail -f` would) and, for
each line `change NAMESPACE POD SERVICE OLD_IP NEW_IP`, sends two UPDATE messages over UDP:

  zone cluster.local.: delete POD.SERVICE.NAMESPACE.svc.cluster.local. A OLD_IP and
                       SERVICE.NAMESPACE.svc.cluster.local. A OLD_IP (class NONE: that one
                       record), add both with NEW_IP, TTL 5
  zone in-addr.arpa.:  delete the PTR of OLD_IP (the record naming the pod), add the PTR of
                       NEW_IP to the pod's name, TTL 5

(`bench/gen.py`'s zone files: the service's A RRset holds every pod's address; a pod's A
record and its PTR name each other.) The pod's own A RRset is deleted whole (class ANY)
rather than by its old record, so that it is right even when changes were held.

SIGUSR1 toggles holding: while held, `change` lines are read and counted but not sent
(churn.sh holds them while the other server is measured, so that Knot's update work does
not take the cores from it). Updates are sent as the lines come, without waiting
for the previous answer. Each answer is written to --out as a line

  SENT_UNIX_TIME  LATENCY_US  ZONE  RCODE

and an update unanswered after --timeout seconds as RCODE `TIMEOUT` (not resent). Other
lines of FILE are skipped. On SIGTERM or SIGINT it waits up to --timeout seconds for the
answers still due, then prints a summary line to stdout and exits:

  updates SENT answered ANSWERED rcodes NOERROR=N[,OTHER=M...] timeouts T lines L

Python 3 stdlib only.
"""

import argparse
import random
import select
import signal
import socket
import struct
import sys
import time

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
TYPE_A, TYPE_PTR, TYPE_SOA = 1, 12, 6
CLASS_IN, CLASS_NONE, CLASS_ANY = 1, 254, 255
TTL = 5
OPCODE_UPDATE = 5


def wire_name(name):
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\0")


def rr(name, rtype, rclass, ttl, rdata):
    return wire_name(name) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def a_rdata(ip):
    return socket.inet_aton(ip)


def reverse_name(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa."


def update(msg_id, zone, records):
    header = struct.pack("!HHHHHH", msg_id, OPCODE_UPDATE << 11, 1, 0, len(records), 0)
    return header + wire_name(zone) + struct.pack("!HH", TYPE_SOA, CLASS_IN) + b"".join(records)


def changes_to_updates(line, zone):
    """The (zone, records) UPDATE bodies for one `change` line, or [] for other lines."""
    parts = line.split()
    if len(parts) != 6 or parts[0] != "change":
        return []
    _, ns, pod, svc, old, new = parts
    if svc == "-" or new == "-":
        return []
    service = f"{svc}.{ns}.svc.{zone}."
    pod_name = f"{pod}.{service}"
    fwd, rev = [], []
    fwd.append(rr(pod_name, TYPE_A, CLASS_ANY, 0, b""))
    if old != "-":
        fwd.append(rr(service, TYPE_A, CLASS_NONE, 0, a_rdata(old)))
        rev.append(rr(reverse_name(old), TYPE_PTR, CLASS_NONE, 0, wire_name(pod_name)))
    fwd += [rr(pod_name, TYPE_A, CLASS_IN, TTL, a_rdata(new)),
            rr(service, TYPE_A, CLASS_IN, TTL, a_rdata(new))]
    rev.append(rr(reverse_name(new), TYPE_PTR, CLASS_IN, TTL, wire_name(pod_name)))
    return [(f"{zone}.", fwd), ("in-addr.arpa.", rev)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--follow", required=True, help="file of `change` lines to follow")
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--zone", default="cluster.local", help="the cluster domain (default cluster.local)")
    p.add_argument("--out", required=True, help="TSV of the answers")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer (default 5)")
    args = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    held = []
    signal.signal(signal.SIGUSR1, lambda *_: held.pop() if held else held.append(1))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.connect((args.server, args.port))
    sock.setblocking(False)
    ids = random.Random(1)
    pending = {}  # id -> (sent time, zone)
    counts = {}
    sent = answered = timeouts = lines = skipped = 0
    out = open(args.out, "w", buffering=1 << 16)
    src = open(args.follow, "r")
    partial = ""
    stop_at = None

    def receive():
        nonlocal answered
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            if len(data) < 12:
                continue
            msg_id, flags = struct.unpack("!HH", data[:4])
            entry = pending.pop(msg_id, None)
            if entry is None:
                continue
            rcode = RCODES.get(flags & 0xF, f"RCODE{flags & 0xF}")
            counts[rcode] = counts.get(rcode, 0) + 1
            answered += 1
            now = time.time()
            out.write(f"{entry[0]:.6f}\t{(now - entry[0]) * 1e6:.0f}\t{entry[1]}\t{rcode}\n")

    while True:
        if stop and stop_at is None:
            stop_at = time.time() + args.timeout
        got = False
        if stop_at is None:
            chunk = src.readline()
            if chunk:
                got = True
                partial += chunk
                if partial.endswith("\n"):
                    line, partial = partial, ""
                    lines += 1
                    updates = changes_to_updates(line, args.zone)
                    if held and updates:
                        skipped += 1
                        updates = []
                    for zone, records in updates:
                        msg_id = ids.randrange(65536)
                        while msg_id in pending:
                            msg_id = ids.randrange(65536)
                        try:
                            sock.send(update(msg_id, zone, records))
                        except (BlockingIOError, InterruptedError):
                            select.select([], [sock], [], 1.0)
                            sock.send(update(msg_id, zone, records))
                        pending[msg_id] = (time.time(), zone)
                        sent += 1
        receive()
        now = time.time()
        for msg_id, (t, zone) in list(pending.items()):
            if now - t > args.timeout:
                del pending[msg_id]
                timeouts += 1
                counts["TIMEOUT"] = counts.get("TIMEOUT", 0) + 1
                out.write(f"{t:.6f}\t-1\t{zone}\tTIMEOUT\n")
        if stop_at is not None and (not pending or now > stop_at):
            break
        if not got:
            try:
                select.select([sock], [], [], 0.005)
            except InterruptedError:
                pass
    out.close()
    rcodes = ",".join(f"{k}={v}" for k, v in sorted(counts.items()) if k != "TIMEOUT") or "none"
    print(f"updates {sent} answered {answered} rcodes {rcodes} timeouts {timeouts} "
          f"unanswered {len(pending)} lines {lines} held {skipped}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
