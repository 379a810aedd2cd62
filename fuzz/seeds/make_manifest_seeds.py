#!/usr/bin/env python3
"""Writes seeds for the manifest_parser target: first byte picks the file name
(0: m.yaml, 1: m.json, 2: dir/m.yml, 3: list.json), the rest is the text."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "corpus", "manifest_parser")
os.makedirs(out, exist_ok=True)
YAML, JSON = b"\x00", b"\x01"
seeds = {}
for f in ("nginx.yaml", "data.yaml"):
    seeds["demo_" + f] = YAML + open(os.path.join(here, "..", "..", "config", "demo", f), "rb").read()

pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "nginx"},
                    "deletionTimestamp": "2024-01-01T00:00:00Z"},
       "spec": {"hostname": "web-0", "subdomain": "nginx",
                "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
       "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
                  "conditions": [{"type": "Ready", "status": "True"}]}}
svc = {"apiVersion": "v1", "kind": "Service",
       "metadata": {"name": "nginx", "annotations": {"service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"}},
       "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "publishNotReadyAddresses": True,
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}, {"port": 53, "protocol": "UDP", "targetPort": 5353}]}}
sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
       "spec": {"serviceName": "nginx", "replicas": 3, "ordinals": {"start": 2}}}
lst = {"apiVersion": "v1", "kind": "List", "items": [pod, svc, sts]}
seeds["json_pod"] = JSON + json.dumps(pod).encode()
seeds["json_list"] = b"\x03" + json.dumps(lst, indent=1).encode()
seeds["yaml_as_json_list"] = YAML + json.dumps(lst).encode()
seeds["json_podlist"] = JSON + json.dumps({"apiVersion": "v1", "kind": "PodList", "items": [pod]}).encode()
seeds["yaml_multi"] = YAML + b"""---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns1}
spec: {clusterIP: None, selector: {app: a}, ports: [{name: p, port: 1, targetPort: "2"}]}
---
# comment only
---
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: a}}
status: {podIP: 10.0.0.1}
...
"""
seeds["yaml_errors"] = b"\x02" + b"""apiVersion: v1
kind: Pod
metadata: {name: nostatus}
---
apiVersion: v1
kind: Service
metadata: {name: 5}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec: {serviceName: x, replicas: -1}
---
apiVersion: v1
kind: Pod
metadata: {name: badip}
status: {podIP: not-an-ip}
"""
seeds["yaml_anchors"] = YAML + b"""a: &a {kind: Pod, apiVersion: v1, metadata: {name: x}, status: {podIP: "::1"}}
kind: List
items: [*a, *a]
"""
seeds["yaml_tags"] = YAML + b"apiVersion: !!str v1\nkind: !Pod Pod\nmetadata: {name: !!binary aGk=}\nstatus: {podIP: 1.2.3.4}\n"
seeds["json_syntax_error"] = JSON + b'{\n "kind": \n}'
seeds["yaml_syntax_error"] = YAML + b"kind: Pod\nmetadata: {name: [\n"
for k, v in seeds.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
print(len(seeds), "seeds in", out)
