#!/usr/bin/env python3
"""Generate the benchmark workload for headless-dns, Knot and NSD.

N headless Services x M StatefulSet pods, spread over namespaces, written as

  OUT/manifests/ns-XX.yaml      Kubernetes objects (one `kind: List` per namespace):
                                Service, StatefulSet and its M Ready pods
  OUT/zones/cluster.local.zone  the same records as an RFC 1035 zone file
  OUT/zones/in-addr.arpa.zone   their PTRs (and ip6.arpa.zone with --dual-stack-every)
  OUT/queries.txt               dnsperf input with the query mix of
                                /work/shared/reference/anchors.md
  OUT/samples.txt               a few "name type" lines for answer comparison
  OUT/queries-external.txt      with --external-zone: queries.txt with every name moved
                                into the external zone (see below)
  OUT/meta.json                 counts, the first and last pod's name, file sizes

Naming: namespace `ns-<n>`, Service `app-<s>` and StatefulSet `app-<s>` (serviceName
`app-<s>`), pods `app-<s>-<k>` with hostname = pod name, subdomain = service name, so
a pod answers as `app-<s>-<k>.app-<s>.ns-<n>.svc.cluster.local`. Services are assigned to
namespaces in contiguous blocks, so the LAST pod written (in the last file) is
`app-<N-1>-<M-1>`.

The zone file reproduces headless-dns's record rules (README "Record rules"): TTL 5,
SOA `ns.dns.<zone>. hostmaster.<zone>. <serial> 7200 1800 86400 5`, NS `ns.dns.<zone>.`,
`dns-version` TXT "1.1.0" with TTL 28800, per service A (every pod), per pod A,
`_web._tcp` SRV `0 floor(100/M) 8080 <pod>...`, and one reverse zone `in-addr.arpa.`
(headless-dns is authoritative for all of in-addr.arpa., so its negative answers carry
that SOA owner; using the same apex keeps the answers byte-comparable).

--external-zone ZONE annotates every Service `app-<s>` in `ns-<n>` with
`external-dns.alpha.kubernetes.io/hostname: app-<s>.ns-<n>.ZONE` (headless-dns
--external-zone ZONE then publishes `app-<s>.ns-<n>.ZONE`, each pod as
`app-<s>-<k>.app-<s>.ns-<n>.ZONE` and `_web._tcp.app-<s>.ns-<n>.ZONE` SRV), and writes
OUT/queries-external.txt: queries.txt line for line with `.svc.cluster.local` replaced
by `.ZONE` (the search-path NXDOMAIN names become `<pod>.app-<s>.ns-<n>.ZONE.ns-<n>.ZONE`,
NXDOMAIN in the external zone too). Without the option every output is as before.

Python 3 stdlib only. Deterministic for a given set of arguments (fixed --seed).
"""

import argparse
import ipaddress
import json
import os
import random
import sys
import time

ZONE = "cluster.local"
TTL = 5
NEG_TTL = 5
TXT_TTL = 28800
CONTAINER_PORT = 8080


def pod_ipv4(index):
    """Unique IPv4 in 10.0.0.0/8, skipping .0 and .255 in the last octet."""
    a, rest = divmod(index, 254 * 256)
    b, c = divmod(rest, 254)
    if a > 255:
        raise SystemExit("too many pods for 10.0.0.0/8 with this layout")
    return f"10.{a}.{b}.{c + 1}"


def pod_ipv6(index):
    return str(ipaddress.IPv6Address(0xFD00_0010_0000_0000_0000_0000_0000_0000 + index + 1))


def ptr_v4(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa."


def ptr_v6(ip):
    return ipaddress.IPv6Address(ip).reverse_pointer + "."


# --- Kubernetes YAML (block style, as `kubectl get -o yaml` prints it, minus managedFields)


def yaml_service(ns, svc, s, external_zone=None):
    annotations = ""
    if external_zone:
        annotations = f"""
    annotations:
      external-dns.alpha.kubernetes.io/hostname: {svc}.{ns}.{external_zone}"""
    return f"""- apiVersion: v1
  kind: Service
  metadata:
    name: {svc}
    namespace: {ns}{annotations}
    labels:
      app: {svc}
    uid: 00000000-0000-4000-8000-{s:012d}
  spec:
    clusterIP: None
    clusterIPs:
    - None
    internalTrafficPolicy: Cluster
    ipFamilies:
    - IPv4
    ipFamilyPolicy: SingleStack
    ports:
    - name: web
      port: 80
      protocol: TCP
      targetPort: http
    publishNotReadyAddresses: false
    selector:
      app: {svc}
    sessionAffinity: None
    type: ClusterIP
  status:
    loadBalancer: {{}}
"""


def yaml_statefulset(ns, svc, replicas):
    return f"""- apiVersion: apps/v1
  kind: StatefulSet
  metadata:
    name: {svc}
    namespace: {ns}
    generation: 1
  spec:
    podManagementPolicy: Parallel
    replicas: {replicas}
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app: {svc}
    serviceName: {svc}
    template:
      metadata:
        labels:
          app: {svc}
      spec:
        containers:
        - image: registry.k8s.io/nginx-slim:0.27
          imagePullPolicy: IfNotPresent
          name: nginx
          ports:
          - containerPort: {CONTAINER_PORT}
            name: http
            protocol: TCP
          resources: {{}}
        dnsPolicy: ClusterFirst
        restartPolicy: Always
        terminationGracePeriodSeconds: 10
    updateStrategy:
      rollingUpdate:
        partition: 0
      type: RollingUpdate
  status:
    availableReplicas: {replicas}
    currentReplicas: {replicas}
    readyReplicas: {replicas}
    replicas: {replicas}
"""


def yaml_pod(ns, svc, ordinal, ips, node_i):
    node = f"node-{node_i}"
    name = f"{svc}-{ordinal}"
    pod_ips = "".join(f"\n    - ip: {ip}" for ip in ips)
    ts = "2026-01-01T00:00:00Z"
    return f"""- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "{ts}"
    generateName: {svc}-
    labels:
      app: {svc}
      apps.kubernetes.io/pod-index: "{ordinal}"
      controller-revision-hash: {svc}-5c6f8d7b9
      statefulset.kubernetes.io/pod-name: {name}
    name: {name}
    namespace: {ns}
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: StatefulSet
      name: {svc}
      uid: 11111111-0000-4000-8000-000000000000
    resourceVersion: "1"
  spec:
    containers:
    - image: registry.k8s.io/nginx-slim:0.27
      imagePullPolicy: IfNotPresent
      name: nginx
      ports:
      - containerPort: {CONTAINER_PORT}
        name: http
        protocol: TCP
      resources: {{}}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    enableServiceLinks: true
    hostname: {name}
    nodeName: {node}
    restartPolicy: Always
    schedulerName: default-scheduler
    subdomain: {svc}
    terminationGracePeriodSeconds: 10
  status:
    conditions:
    - lastTransitionTime: "{ts}"
      status: "True"
      type: Initialized
    - lastTransitionTime: "{ts}"
      status: "True"
      type: Ready
    - lastTransitionTime: "{ts}"
      status: "True"
      type: ContainersReady
    - lastTransitionTime: "{ts}"
      status: "True"
      type: PodScheduled
    hostIP: 192.168.0.{node_i + 1}
    phase: Running
    podIP: {ips[0]}
    podIPs:{pod_ips}
    qosClass: BestEffort
    startTime: "{ts}"
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--services", type=int, default=1000, help="headless services = StatefulSets (default 1000)")
    p.add_argument("--pods-per-service", type=int, default=10, help="Ready pods per StatefulSet (default 10)")
    p.add_argument("--namespaces", type=int, default=50, help="namespaces (default 50)")
    p.add_argument("--queries", type=int, default=100_000, help="lines in queries.txt (default 100000; 0 = none)")
    p.add_argument("--seed", type=int, default=20260101)
    p.add_argument("--serial", type=int, default=2026010101, help="SOA serial in the zone files")
    p.add_argument("--dual-stack-every", type=int, default=0, metavar="K",
                   help="every K-th pod also gets an IPv6 (fd00:10::/64) address and an ip6.arpa PTR "
                        "(default 0: IPv4 only, so pod AAAA queries are NODATA as anchors.md wants)")
    p.add_argument("--no-zones", action="store_true", help="skip the zone files (memory benchmark)")
    p.add_argument("--external-zone", metavar="ZONE",
                   help="annotate every Service app-<s> in ns-<n> with external-dns.alpha.kubernetes.io/hostname: "
                        "app-<s>.ns-<n>.ZONE and write queries-external.txt, the queries with the names in ZONE "
                        "(default: no annotation)")
    args = p.parse_args()

    n_svc, m, n_ns = args.services, args.pods_per_service, args.namespaces
    if n_svc < 1 or m < 1 or n_ns < 1:
        p.error("counts must be positive")
    n_ns = min(n_ns, n_svc)
    ext = args.external_zone.strip(".").lower() if args.external_zone else None
    if args.external_zone is not None and not ext:
        p.error("--external-zone needs a zone name")
    rng = random.Random(args.seed)
    out = args.out
    os.makedirs(os.path.join(out, "manifests"), exist_ok=True)
    os.makedirs(os.path.join(out, "zones"), exist_ok=True)
    weight = max(1, 100 // m)
    dual = args.dual_stack_every
    t0 = time.time()

    services = []  # (ns, svc, [(pod, [ips])])
    pod_index = 0
    for s in range(n_svc):
        ns = f"ns-{s * n_ns // n_svc}"
        svc = f"app-{s}"
        pods = []
        for k in range(m):
            ips = [pod_ipv4(pod_index)]
            if dual and pod_index % dual == dual - 1:
                ips.append(pod_ipv6(pod_index))
            pods.append((f"{svc}-{k}", ips))
            pod_index += 1
        services.append((ns, svc, pods))

    # Manifests: one kind: List per namespace.
    by_ns = {}
    for s, (ns, svc, pods) in enumerate(services):
        by_ns.setdefault(ns, []).append((s, svc, pods))
    for ns_i, (ns, svcs) in enumerate(by_ns.items()):
        path = os.path.join(out, "manifests", f"{ns}.yaml")
        with open(path, "w") as f:
            f.write("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n")
            for s, svc, pods in svcs:
                f.write(yaml_service(ns, svc, s, ext))
                f.write(yaml_statefulset(ns, svc, m))
                for k, (_pod, ips) in enumerate(pods):
                    f.write(yaml_pod(ns, svc, k, ips, (s * 7 + k) % 100))

    # Zone files.
    soa = f"ns.dns.{ZONE}. hostmaster.{ZONE}. {args.serial} 7200 1800 86400 {NEG_TTL}"
    zone_files = []
    if not args.no_zones:
        path = os.path.join(out, "zones", f"{ZONE}.zone")
        zone_files.append(path)
        with open(path, "w") as f:
            f.write(f"$ORIGIN {ZONE}.\n$TTL {TTL}\n")
            f.write(f"@\tSOA\t{soa}\n@\tNS\tns.dns.{ZONE}.\n")
            f.write(f"dns-version\t{TXT_TTL}\tTXT\t\"1.1.0\"\n")
            for ns, svc, pods in services:
                base = f"{svc}.{ns}.svc"
                for _pod, ips in pods:
                    for ip in sorted(ips, key=lambda i: (":" in i, ipaddress.ip_address(i).packed)):
                        f.write(f"{base}\t{'A' if ':' not in ip else 'AAAA'}\t{ip}\n")
                for pod, ips in pods:
                    for ip in ips:
                        f.write(f"{pod}.{base}\t{'A' if ':' not in ip else 'AAAA'}\t{ip}\n")
                for pod, _ips in pods:
                    f.write(f"_web._tcp.{base}\tSRV\t0 {weight} {CONTAINER_PORT} {pod}.{base}.{ZONE}.\n")
        for apex, fname, want_v6 in (("in-addr.arpa", "in-addr.arpa.zone", False), ("ip6.arpa", "ip6.arpa.zone", True)):
            if want_v6 and not dual:
                continue
            path = os.path.join(out, "zones", fname)
            zone_files.append(path)
            with open(path, "w") as f:
                f.write(f"$ORIGIN {apex}.\n$TTL {TTL}\n@\tSOA\t{soa}\n@\tNS\tns.dns.{ZONE}.\n")
                for ns, svc, pods in services:
                    for pod, ips in pods:
                        for ip in ips:
                            if (":" in ip) == want_v6:
                                ptr = ptr_v6(ip) if want_v6 else ptr_v4(ip)
                                f.write(f"{ptr}\tPTR\t{pod}.{svc}.{ns}.svc.{ZONE}.\n")

    # dnsperf queries: the anchors.md mix, shuffled with the fixed seed.
    def pick():
        ns, svc, pods = services[rng.randrange(n_svc)]
        pod, ips = pods[rng.randrange(m)]
        return ns, svc, pod, ips

    mix = [  # (cumulative percent, kind)
        (58, "pod_a"), (73, "pod_aaaa"), (83, "srv"), (88, "svc_a"), (100, "search_nx"),
    ]
    counts = {k: 0 for _, k in mix}
    if args.queries:
        # With --external-zone, every line is also written with its names in the external
        # zone (`svc.cluster.local` replaced by it), in the same order.
        fx = open(os.path.join(out, "queries-external.txt"), "w") if ext else None
        with open(os.path.join(out, "queries.txt"), "w") as f:
            for _ in range(args.queries):
                r = rng.random() * 100
                kind = next(k for c, k in mix if r < c)
                counts[kind] += 1
                ns, svc, pod, _ips = pick()
                if kind == "pod_a":
                    line = "{pod}.{svc}.{ns}.{suffix} A\n"
                elif kind == "pod_aaaa":
                    line = "{pod}.{svc}.{ns}.{suffix} AAAA\n"
                elif kind == "srv":
                    line = "_web._tcp.{svc}.{ns}.{suffix} SRV\n"
                elif kind == "svc_a":
                    line = "{svc}.{ns}.{suffix} A\n"
                else:  # a resolver walking the search path of a pod in the same namespace
                    line = "{pod}.{svc}.{ns}.{suffix}.{ns}.{suffix} A\n"
                f.write(line.format(pod=pod, svc=svc, ns=ns, suffix=f"svc.{ZONE}"))
                if fx:
                    fx.write(line.format(pod=pod, svc=svc, ns=ns, suffix=ext))
        if fx:
            fx.close()

    # Samples for the answer comparison: every query kind plus edge cases.
    ns0, svc0, pods0 = services[0]
    nsl, svcl, podsl = services[-1]
    pod0, ips0 = pods0[0]
    podl, ipsl = podsl[-1]
    samples = [
        f"{pod0}.{svc0}.{ns0}.svc.{ZONE}. A",
        f"{podl}.{svcl}.{nsl}.svc.{ZONE}. A",
        f"{pod0}.{svc0}.{ns0}.svc.{ZONE}. AAAA",
        f"_web._tcp.{svc0}.{ns0}.svc.{ZONE}. SRV",
        f"{svcl}.{nsl}.svc.{ZONE}. A",
        f"{pod0}.{svc0}.{ns0}.svc.{ZONE}.{ns0}.svc.{ZONE}. A",
        f"{ptr_v4(ips0[0])} PTR",
        f"{ptr_v4(ipsl[0])} PTR",
        f"{ZONE}. SOA",
        f"{ZONE}. NS",
        f"dns-version.{ZONE}. TXT",
        f"{svc0}-{m}.{svc0}.{ns0}.svc.{ZONE}. A",           # ordinal beyond replicas: NXDOMAIN
        f"_tcp.{svc0}.{ns0}.svc.{ZONE}. A",                  # empty non-terminal: NODATA
        f"{ns0}.svc.{ZONE}. A",                              # empty non-terminal: NODATA
        f"svc.{ZONE}. A",                                    # empty non-terminal: NODATA
        f"_web._udp.{svc0}.{ns0}.svc.{ZONE}. SRV",           # no such port: NXDOMAIN
        f"{pod0.upper()}.{svc0}.{ns0}.svc.{ZONE}. A",        # case is preserved
        f"{'.'.join(reversed(ips0[0].split('.')[:3]))}.in-addr.arpa. PTR",  # ENT in reverse
        f"1.1.168.192.in-addr.arpa. PTR",                    # no such address: NXDOMAIN
        f"example.com. A",
        *([f"{pods0[dual - 1][0]}.{svc0}.{ns0}.svc.{ZONE}. AAAA",  # dual-stack pod
           f"{ptr_v6(pods0[dual - 1][1][1])} PTR",
           f"{svc0}.{ns0}.svc.{ZONE}. AAAA"] if dual and dual <= m else []),                                   # out of zone: REFUSED
        # The NS target: headless-dns makes dns.<zone> and ns.dns.<zone> empty non-terminals
        # (NODATA), which a zone file cannot express without giving them records.
        f"ns.dns.{ZONE}. A !known: empty non-terminal in headless-dns, absent from the zone file",
    ]
    with open(os.path.join(out, "samples.txt"), "w") as f:
        f.write("\n".join(samples) + "\n")

    def size(path):
        return os.path.getsize(path) if os.path.exists(path) else 0

    manifest_bytes = sum(size(os.path.join(out, "manifests", f)) for f in os.listdir(os.path.join(out, "manifests")))
    meta = {
        "services": n_svc,
        "statefulsets": n_svc,
        "pods": pod_index,
        "namespaces": len(by_ns),
        "pods_per_service": m,
        "dual_stack_every": dual,
        "first_pod": f"{pod0}.{svc0}.{ns0}.svc.{ZONE}",
        "first_pod_ip": ips0[0],
        "last_pod": f"{podl}.{svcl}.{nsl}.svc.{ZONE}",
        "last_pod_ip": ipsl[0],
        "manifest_bytes": manifest_bytes,
        "zone_files": [os.path.basename(z) for z in zone_files],
        "query_mix": counts,
        "seed": args.seed,
        "generate_seconds": round(time.time() - t0, 2),
    }
    if ext:
        meta["external_zone"] = ext
        meta["external_first_pod"] = f"{pod0}.{svc0}.{ns0}.{ext}"
        meta["external_last_pod"] = f"{podl}.{svcl}.{nsl}.{ext}"
        meta["external_last_service"] = f"{svcl}.{nsl}.{ext}"
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
