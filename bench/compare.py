#!/usr/bin/env python3
"""Ask several DNS servers the same questions with dig and report where the answers differ.

usage: compare.py SAMPLES NAME=PORT [NAME=PORT ...]   (all on 127.0.0.1)

SAMPLES holds "qname qtype [!known: reason]" lines; a difference on a "!known" line is
reported as KNOWN and does not count. For each question and server it compares the rcode,
the AA flag and the answer, authority and additional sections as sets of records
(SOA serials masked: headless-dns uses the Unix time, the zone files a fixed serial).
The first server is the reference. Prints one line per question (OK or DIFF plus the
differing fields) and exits 1 if any rcode or answer section differs.
"""
import re
import subprocess
import sys


def ask(port, qname, qtype):
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+norec", "+time=2", "+tries=1",
         "+noall", "+comments", "+answer", "+authority", "+additional", "+stats", qname, qtype],
        capture_output=True, text=True, timeout=10,
    ).stdout
    res = {"rcode": "TIMEOUT", "aa": False, "answer": [], "authority": [], "additional": [], "tc": False}
    section = None
    res["size"] = "?"
    for line in out.splitlines():
        m = re.search(r"MSG SIZE\s+rcvd: (\d+)", line)
        if m:
            res["size"] = m.group(1)
        m = re.search(r"status: (\w+)", line)
        if m:
            res["rcode"] = m.group(1)
        m = re.match(r";; flags: ([a-z ]*);", line)
        if m:
            flags = m.group(1).split()
            res["aa"], res["tc"] = "aa" in flags, "tc" in flags
        m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if m:
            section = m.group(1).lower()
            continue
        if line.startswith(";") or not line.strip():
            if line.startswith(";; ") and "SECTION" in line:
                section = None
            continue
        if section:
            f = line.split()
            if len(f) >= 4 and f[3] == "SOA" and len(f) >= 7:
                f[6] = "<serial>"
            res[section].append(" ".join(f))
    for s in ("answer", "authority", "additional"):
        res[s] = sorted(res[s])
    return res


def main():
    samples, servers = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
    questions = []
    for line in open(samples):
        if line.strip() and not line.startswith("#"):
            q, _, known = line.partition("!known:")
            questions.append((*q.split()[:2], known.strip()))
    hard = 0
    for qname, qtype, known in questions:
        answers = {name: ask(port, qname, qtype) for name, port in servers}
        ref_name, ref = servers[0][0], answers[servers[0][0]]
        diffs = []
        for name, _ in servers[1:]:
            other = answers[name]
            for field in ("rcode", "aa", "tc", "answer", "authority", "additional"):
                if other[field] != ref[field]:
                    diffs.append((name, field))
                    if field in ("rcode", "answer") and not known:
                        hard += 1
        sizes = "/".join(answers[n]["size"] for n, _ in servers)
        summary = (f"{ref['rcode']:<8} an={len(ref['answer']):<3} ns={len(ref['authority'])} "
                   f"ar={len(ref['additional']):<3} bytes {sizes}")
        if not diffs:
            print(f"OK    {qname} {qtype}: {summary}")
            continue
        tag = "KNOWN" if known else "DIFF "
        print(f"{tag} {qname} {qtype}: {ref_name}: {summary}" + (f"  ({known})" if known else ""))
        for name, field in diffs:
            print(f"      {field}: {ref_name}={_fmt(ref[field])}")
            print(f"      {field}: {name}={_fmt(answers[name][field])}")
    print("(bytes: reply sizes with EDNS, in server order: " + "/".join(n for n, _ in servers) + ")")
    print(f"compare: {len(questions)} questions, {len(servers)} servers, "
          f"{hard} rcode/answer difference(s)")
    sys.exit(1 if hard else 0)


def _fmt(v):
    if isinstance(v, list):
        if len(v) > 4:
            return repr(v[:4])[:-1] + f", ... {len(v)} records]"
        return repr(v)
    return repr(v)


if __name__ == "__main__":
    main()
