#!/usr/bin/env python3
"""Writes seed DNS queries for the query_path target (no dependencies)."""
import os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "corpus", "query_path")
os.makedirs(out, exist_ok=True)
T = {"A": 1, "NS": 2, "SOA": 6, "PTR": 12, "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41, "AXFR": 252, "ANY": 255}

def name(n):
    b = b""
    for label in n.rstrip(".").split("."):
        if label:
            b += bytes([len(label)]) + label.encode()
    return b + b"\0"

def query(qname, qtype, qid=0x1234, flags=0x0100, edns=None, qclass=1, qdcount=1, opcode=0, version=0, do=False):
    flags |= opcode << 11
    arcount = 1 if edns is not None else 0
    msg = struct.pack(">HHHHHH", qid, flags, qdcount, 0, 0, arcount)
    for _ in range(qdcount):
        msg += name(qname) + struct.pack(">HH", T.get(qtype, qtype) if isinstance(qtype, str) else qtype, qclass)
    if edns is not None:
        ttl = (version << 16) | (0x8000 if do else 0)
        msg += b"\0" + struct.pack(">HHIH", 41, edns, ttl, 0)
    return msg

seeds = {}
names = [
    ("nginx.default.svc.cluster.local", ["A", "AAAA", "ANY"]),
    ("web-0.nginx.default.svc.cluster.local", ["A", "AAAA", "ANY"]),
    ("WEB-2.Nginx.Default.SVC.cluster.local", ["A"]),
    ("web-5.nginx.default.svc.cluster.local", ["A"]),
    ("_web._tcp.nginx.default.svc.cluster.local", ["SRV", "ANY"]),
    ("_tcp.nginx.default.svc.cluster.local", ["SRV"]),
    ("db.data.svc.cluster.local", ["A", "AAAA"]),
    ("db-0.db.data.svc.cluster.local", ["A", "AAAA", "ANY"]),
    ("db-1.db.data.svc.cluster.local", ["A"]),
    ("db-2.db.data.svc.cluster.local", ["AAAA"]),
    ("10-244-2-52.db.data.svc.cluster.local", ["A"]),
    ("_postgres._tcp.db.data.svc.cluster.local", ["SRV"]),
    ("_metrics._tcp.db.data.svc.cluster.local", ["SRV"]),
    ("10.1.244.10.in-addr.arpa", ["PTR", "ANY"]),
    ("20.1.244.10.in-addr.arpa", ["PTR"]),
    ("244.10.in-addr.arpa", ["PTR"]),
    ("0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.4.4.2.0.0.1.0.0.0.0.d.f.ip6.arpa", ["PTR"]),
    ("cluster.local", ["SOA", "NS", "ANY", "AXFR"]),
    ("dns-version.cluster.local", ["TXT"]),
    ("data.svc.cluster.local", ["A"]),
    ("example.com", ["A"]),
]
for n, types in names:
    for t in types:
        base = n.replace(".", "_")[:40] + "_" + t
        seeds[base] = query(n, t)
        seeds[base + "_edns"] = query(n, t, edns=1232)
seeds["srv_edns_4096_do"] = query("_web._tcp.nginx.default.svc.cluster.local", "SRV", edns=4096, do=True)
seeds["srv_edns_100"] = query("_web._tcp.nginx.default.svc.cluster.local", "SRV", edns=100)
seeds["badvers"] = query("web-0.nginx.default.svc.cluster.local", "A", edns=1232, version=1)
seeds["notimp_update"] = query("cluster.local", "SOA", opcode=5)
seeds["qdcount0"] = query("x", "A", qdcount=0)
seeds["qdcount2"] = query("nginx.default.svc.cluster.local", "A", qdcount=2)
seeds["class_chaos"] = query("dns-version.cluster.local", "TXT", qclass=3)
seeds["class_any"] = query("nginx.default.svc.cluster.local", "A", qclass=255)
seeds["qtype_opt"] = query("cluster.local", "OPT")
seeds["response_qr1"] = query("cluster.local", "SOA", flags=0x8100)
seeds["truncated_body"] = query("nginx.default.svc.cluster.local", "A")[:20]
seeds["header_only"] = query("x", "A", qdcount=1)[:12]
seeds["short"] = b"\x12\x34\x01"
seeds["compression_loop"] = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
for k, v in seeds.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
print(len(seeds), "seeds in", out)
