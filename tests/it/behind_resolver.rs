//! headless-dns behind a real recursive resolver (unbound, from Debian's `unbound`
//! package, installed by scripts/test.sh), configured as a stub zone for the cluster domain the
//! way CoreDNS forwards it: answers come through, our short negative TTLs are honoured,
//! and truncated answers are completed over TCP.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::dns::*;

struct Unbound(Child);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_unbound(dir: &Path, upstream: SocketAddr) -> (Unbound, SocketAddr) {
    start_unbound_with(dir, upstream, "stub").await
}

/// Unbound sending the cluster domain and `10.in-addr.arpa.` to `upstream` as a `stub`
/// zone (iterative queries to an authority) or a `forward` zone (recursive queries, as
/// CoreDNS's `forward` plugin sends them).
async fn start_unbound_with(dir: &Path, upstream: SocketAddr, zone_kind: &str) -> (Unbound, SocketAddr) {
    let port = support::ports::free_port();
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n\
             \x20 directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  do-ip6: no\n\
             \x20 access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  module-config: \"iterator\"\n\
             \x20 domain-insecure: \"cluster.local.\"\n  local-zone: \"10.in-addr.arpa.\" nodefault\n\
             \x20 harden-below-nxdomain: yes\n  qname-minimisation: yes\n  prefetch: no\n\
             {z}-zone:\n  name: \"cluster.local.\"\n  {z}-addr: {ip}@{up}\n\
             {z}-zone:\n  name: \"10.in-addr.arpa.\"\n  {z}-addr: {ip}@{up}\n",
            dir = dir.display(),
            ip = upstream.ip(),
            up = upstream.port(),
            z = zone_kind,
        ),
    )
    .unwrap();
    let child = Command::new("unbound")
        .args(["-d", "-c", conf.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unbound is installed (Debian package unbound; scripts/test.sh installs it)");
    let unbound = Unbound(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = raw_udp(addr, &probe_query(), Duration::from_millis(200)).await;
        if probe.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "unbound did not start");
    }
    (unbound, addr)
}

fn probe_query() -> Vec<u8> {
    let mut m = hickory_proto::op::Message::new(
        1,
        hickory_proto::op::MessageType::Query,
        hickory_proto::op::OpCode::Query,
    );
    m.metadata.recursion_desired = true;
    m.add_query(hickory_proto::op::Query::query(name("cluster.local."), RecordType::SOA));
    m.to_vec().unwrap()
}

fn write(dir: &Path, pods: usize, ready: &[usize]) {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: nginx, namespace: default}\n\
         spec: {clusterIP: None, selector: {app: nginx}, ports: [{name: web, port: 80}]}\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: default}\nspec: {serviceName: nginx, replicas: 3}\n---\n",
    );
    for i in ready {
        yaml += &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i}, namespace: default, labels: {{app: nginx}}}}\n\
             spec: {{hostname: web-{i}, subdomain: nginx}}\n\
             status: {{podIP: 10.0.0.{}, conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n",
            i + 10
        );
    }
    let bulk: String = (0..pods)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: big-{i}, namespace: default, labels: {{app: big}}}}\n\
                 status: {{podIP: 10.1.{}.{}, conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n",
                i / 200,
                i % 200 + 1
            )
        })
        .collect();
    yaml += "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: default}\nspec: {clusterIP: None, selector: {app: big}}\n---\n";
    std::fs::write(dir.join("cluster.yaml"), yaml + &bulk).unwrap();
}

#[tokio::test]
async fn through_unbound_answers_negative_ttls_and_tcp_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    write(&manifests, 100, &[0, 1]);
    let server = start(&manifests, &[]).await;
    let (_unbound, resolver) = start_unbound(dir.path(), server.dns_addrs[0]).await;
    let mut client = udp(resolver).await;

    // Answers come through, with the ENT-heavy path of qname minimisation.
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&r), ["10.0.0.10"]);
    let r = query(&mut client, "_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(r.answers.len(), 2);
    let r = query(&mut client, "11.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(answers(&r), ["web-1.nginx.default.svc.cluster.local."]);
    let r = query(&mut client, "nope.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);

    // web-2 is a pending identity: NODATA, cached for at most 1 s.
    let r = query(&mut client, "web-2.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "never NXDOMAIN for a known identity");
    assert!(r.answers.is_empty());
    assert!(r.authorities.iter().all(|a| a.ttl <= 1), "negative TTL as served: {:?}", r.authorities);

    // The pod becomes ready; through the resolver it is seen within ~1 s of being served.
    write(&manifests, 100, &[0, 1, 2]);
    let mut direct = udp(server.dns_addrs[0]).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while addresses(&query(&mut direct, "web-2.nginx.default.svc.cluster.local.", RecordType::A).await)
        .is_empty()
    {
        assert!(Instant::now() < deadline, "served directly");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let served_at = Instant::now();
    loop {
        let r = query(&mut client, "web-2.nginx.default.svc.cluster.local.", RecordType::A).await;
        if addresses(&r) == ["10.0.0.12"] {
            break;
        }
        assert!(
            served_at.elapsed() < Duration::from_millis(2500),
            "resolver kept the negative answer too long"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 100 addresses do not fit UDP: unbound gets TC, retries over TCP, and returns them all.
    let mut over_tcp = tcp(resolver).await;
    let r = query(&mut over_tcp, "big.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&r).len(), 100);
    server.stop().await.unwrap();
}

/// The whole-zone handover: one forwarded `cluster.local` zone, as
/// `cluster.local:53 { forward . <headless-dns> }` in CoreDNS, serves a ClusterIP name and
/// a StatefulSet name side by side (a Helm chart's `kafka` and `kafka-headless`), and the
/// rest of the cluster domain, through a real resolver with qname minimisation.
#[tokio::test]
async fn a_cluster_ip_name_and_a_statefulset_name_resolve_through_one_forwarded_zone() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(
        manifests.join("kafka.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: kafka, namespace: data}\n\
         spec: {clusterIP: 10.96.0.20, selector: {app: kafka}, ports: [{name: tcp-client, port: 9092}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: kafka-headless, namespace: data}\n\
         spec: {clusterIP: None, selector: {app: kafka}, ports: [{name: tcp-client, port: 9092}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: broker, namespace: data}\n\
         spec: {type: ExternalName, externalName: kafka.data.svc.cluster.local}\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: kafka, namespace: data}\n\
         spec: {serviceName: kafka-headless, replicas: 2}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: kafka-0, namespace: data, labels: {app: kafka}}\n\
         spec: {hostname: kafka-0, subdomain: kafka-headless}\n\
         status: {phase: Running, podIP: 10.0.0.5, conditions: [{type: Ready, status: \"True\"}]}\n",
    )
    .unwrap();
    let server = start(&manifests, &[]).await;
    let (_unbound, resolver) = start_unbound_with(dir.path(), server.dns_addrs[0], "forward").await;
    let mut client = udp(resolver).await;

    let r = query(&mut client, "kafka.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(
        (r.metadata.response_code, addresses(&r)),
        (ResponseCode::NoError, vec!["10.96.0.20".to_owned()])
    );
    let r = query(&mut client, "kafka-0.kafka-headless.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(
        (r.metadata.response_code, addresses(&r)),
        (ResponseCode::NoError, vec!["10.0.0.5".to_owned()])
    );
    // kafka-1 is the StatefulSet's second identity, not created yet: NODATA, not NXDOMAIN.
    let r = query(&mut client, "kafka-1.kafka-headless.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!((r.metadata.response_code, r.answers.len()), (ResponseCode::NoError, 0));
    // No pod names under the ClusterIP service.
    let r = query(&mut client, "kafka-0.kafka.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    let r = query(&mut client, "_tcp-client._tcp.kafka.data.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&r), ["0 100 9092 kafka.data.svc.cluster.local."]);
    // The ExternalName's CNAME, followed inside the zone.
    let r = query(&mut client, "broker.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.96.0.20"]);
    // A verified pod record, and the cluster IP's PTR.
    let r = query(&mut client, "10-0-0-5.data.pod.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.0.0.5"]);
    let r = query(&mut client, "20.0.96.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(answers(&r), ["kafka.data.svc.cluster.local."]);
    server.stop().await.unwrap();
}
