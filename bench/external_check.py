#!/usr/bin/env python3
"""Check that the external listener answers the external names as the cluster listener
answers the cluster names (used by bench/external_throughput.sh before it measures).

usage: external_check.py QUERIES QUERIES_EXTERNAL ZONE CLUSTER_PORT EXTERNAL_PORT [N]

QUERIES and QUERIES_EXTERNAL are gen.py's queries.txt and queries-external.txt (the same
questions, line for line, with `svc.cluster.local` replaced by ZONE). For the first N (2000)
distinct pairs it asks the cluster name on 127.0.0.1:CLUSTER_PORT and the external name
on 127.0.0.1:EXTERNAL_PORT, over UDP with EDNS (1232 bytes, so the SRV answers are
complete), and compares the rcode, the AA and TC flags, the answer section (record types
and data, owners and SRV targets with the zone suffix mapped) and the authority section's
record types. Then two scope checks: a cluster name on the external listener is REFUSED,
and an external name on the cluster listener answers as on the external one.

Prints the counts by query kind and the first differences; exits 1 on any difference.
Python 3 stdlib only.
"""
import ipaddress
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "SOA": 6, "PTR": 12, "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41}
NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\0"


def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
        elif n == 0:
            if not jumped:
                end = off + 1
            return ".".join(labels).lower(), end
        else:
            labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
    raise ValueError("name loop")


def ask(port, name, qtype, timeout=2.0):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1) + encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)
    q += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)  # OPT: 1232 bytes, no DO
    for _ in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(q, ("127.0.0.1", port))
            msg = s.recv(65535)
        except socket.timeout:
            continue
        finally:
            s.close()
        if struct.unpack(">H", msg[:2])[0] == qid:
            return parse(msg)
    return {"rcode": "TIMEOUT", "aa": False, "tc": False, "answer": [], "authority": []}


def parse(msg):
    _qid, flags, qd, an, ns, _ar = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    res = {"rcode": RCODES.get(flags & 0xF, str(flags & 0xF)), "aa": bool(flags & 0x400),
           "tc": bool(flags & 0x200), "answer": [], "authority": []}
    for section, count in (("answer", an), ("authority", ns)):
        for _ in range(count):
            owner, off = read_name(msg, off)
            rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            if rtype == 1:
                data = str(ipaddress.IPv4Address(rdata))
            elif rtype == 28:
                data = str(ipaddress.IPv6Address(rdata))
            elif rtype == 33:
                prio, weight, port = struct.unpack(">HHH", rdata[:6])
                target, _ = read_name(msg, off + 6)
                data = f"{prio} {weight} {port} {target}"
            else:
                data = rdata.hex()
            off += rdlen
            res[section].append((owner, NAMES.get(rtype, str(rtype)), data))
    return res


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    qfile, xfile, zone, cport, xport = sys.argv[1:6]
    limit = int(sys.argv[6]) if len(sys.argv) > 6 else 2000
    cport, xport = int(cport), int(xport)
    zone = zone.strip(".").lower()
    cluster_suffix = ".svc.cluster.local"

    def to_external(name):
        return name.replace(cluster_suffix, "." + zone)

    pairs, seen = [], set()
    with open(qfile) as fc, open(xfile) as fx:
        for lc, lx in zip(fc, fx):
            (cname, ctype), (xname, xtype) = lc.split(), lx.split()
            if ctype != xtype or to_external(cname.lower()) != xname.lower():
                print(f"DIFF query files out of step: {lc.strip()!r} vs {lx.strip()!r}")
                return 1
            if (cname, ctype) in seen:
                continue
            seen.add((cname, ctype))
            pairs.append((cname, xname, ctype))
            if len(pairs) >= limit:
                break

    def kind(name, qtype):  # of a cluster name
        if name.startswith("_"):
            return "SRV"
        if name.count(cluster_suffix) == 2:
            return "search-path NXDOMAIN"
        return f"{'service' if name.count('.') == 4 else 'pod'} {qtype}"

    counts, diffs = {}, []
    for cname, xname, qtype in pairs:
        c, x = ask(cport, cname, qtype), ask(xport, xname, qtype)
        mapped = {
            "rcode": c["rcode"], "aa": c["aa"], "tc": c["tc"],
            "answer": sorted((to_external(o), t, to_external(d)) for o, t, d in c["answer"]),
            "authority": sorted(t for _, t, _ in c["authority"]),
        }
        got = {
            "rcode": x["rcode"], "aa": x["aa"], "tc": x["tc"],
            "answer": sorted(x["answer"]),
            "authority": sorted(t for _, t, _ in x["authority"]),
        }
        k = kind(cname, qtype)
        ok, bad = counts.get(k, (0, 0))
        if mapped == got and c["rcode"] != "TIMEOUT":
            counts[k] = (ok + 1, bad)
        else:
            counts[k] = (ok, bad + 1)
            fields = [f for f in mapped if mapped[f] != got[f]] or ["rcode (timeout)"]
            diffs.append(f"DIFF {cname} / {xname} {qtype}: {', '.join(fields)}: "
                         f"cluster {[mapped[f] for f in fields]} external {[got[f] for f in fields]}")

    for k in sorted(counts):
        ok, bad = counts[k]
        print(f"{'OK  ' if not bad else 'DIFF'} {k:<22} {ok} same answer{'s' if ok != 1 else ''}"
              + (f", {bad} different" if bad else ""))
    # Scope: the external listener answers the external zone alone; the cluster listener
    # answers both.
    cname, xname, qtype = pairs[0]
    refused = ask(xport, cname, qtype)["rcode"]
    print(f"{'OK  ' if refused == 'REFUSED' else 'DIFF'} scope: {cname} {qtype} on the external listener: {refused}")
    if refused != "REFUSED":
        diffs.append("the external listener answered a cluster name")
    both = ask(cport, xname, qtype)
    same = sorted(both["answer"]) == sorted(ask(xport, xname, qtype)["answer"]) and both["rcode"] != "REFUSED"
    print(f"{'OK  ' if same else 'DIFF'} scope: {xname} {qtype} on the cluster listener: {both['rcode']}, "
          f"{'the same answer as' if same else 'NOT the answer of'} the external listener")
    if not same:
        diffs.append("the cluster listener answers the external name differently")
    for d in diffs[:10]:
        print(d)
    if len(diffs) > 10:
        print(f"... {len(diffs) - 10} more differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
