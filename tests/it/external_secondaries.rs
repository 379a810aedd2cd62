//! External zones behind real secondaries: headless-dns as the hidden primary of
//! `example.com` (`--external-zone`), Knot, NSD and BIND (Debian's `knot`, `nsd` and
//! `bind9`) as its public secondaries, and Knot signing what it receives with `unbound`
//! validating it (Debian's `unbound`). The scenario is config/external's Kafka: a headless
//! Service published by its pods' IPs, one by its nodes' ExternalIPs, a LoadBalancer, and
//! a StatefulSet whose starting broker is pending: NODATA with a TXT, never NXDOMAIN.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use support::dns::{addresses, start};
use support::secondaries::{
    Running, Secondary, answer, bind_secondary, counter, dnssec_query, full_transfers, incremental_transfers,
    knot_secondary, knot_signing_secondary, nsd_secondary, unbound_validator,
};

const ZONE: &str = "example.com.";

/// A broker's pod: its ordinal, its node (`a`, `b` or `c`), its IP, whether it is ready.
type Broker = (u32, char, &'static str, bool);

/// config/external as it is: kafka-0 on node-a and kafka-1 on node-b ready, kafka-2
/// starting on node-c.
const DEMO: [Broker; 3] =
    [(0, 'a', "10.244.1.20", true), (1, 'b', "10.244.2.21", true), (2, 'c', "10.244.3.22", false)];

/// Writes config/external into `dir` with these broker pods instead of its own, and each
/// `(from, to)` of `edits` replaced in its Services, StatefulSet and Nodes; a file that
/// changed is replaced whole, by a rename.
fn manifests(dir: &Path, brokers: &[Broker], edits: &[(&str, &str)]) {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/external");
    let kafka = std::fs::read_to_string(format!("{demo}/kafka.yaml")).unwrap();
    let mut docs: Vec<String> =
        kafka.split("\n---\n").filter(|doc| !doc.contains("kind: Pod")).map(str::to_owned).collect();
    assert_eq!(docs.len(), 4, "config/external/kafka.yaml: 3 Services and a StatefulSet, then the pods");
    for &(i, node, ip, ready) in brokers {
        let host = 1 + node as u32 - 'a' as u32;
        let (phase, ready) = if ready { ("Running", "True") } else { ("Pending", "False") };
        docs.push(format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kafka-{i}\n  namespace: kafka\n  \
             labels: {{app: kafka, apps.kubernetes.io/pod-index: \"{i}\", statefulset.kubernetes.io/pod-name: kafka-{i}}}\n\
             spec:\n  hostname: kafka-{i}\n  subdomain: kafka\n  nodeName: node-{node}\n  \
             containers: [{{name: kafka, ports: [{{name: client, containerPort: 9092}}, {{name: external, containerPort: 9094}}]}}]\n\
             status:\n  phase: {phase}\n  hostIP: 10.0.1.{host}\n  podIP: {ip}\n  podIPs: [{{ip: {ip}}}]\n  \
             conditions: [{{type: Ready, status: \"{ready}\"}}]\n"
        ));
    }
    let nodes = std::fs::read_to_string(format!("{demo}/nodes.yaml")).unwrap();
    for (file, mut text) in [("kafka.yaml", docs.join("\n---\n")), ("nodes.yaml", nodes)] {
        for (from, to) in edits {
            text = text.replace(from, to);
        }
        if std::fs::read_to_string(dir.join(file)).ok().as_ref() != Some(&text) {
            std::fs::write(dir.join(".tmp"), text).unwrap();
            std::fs::rename(dir.join(".tmp"), dir.join(file)).unwrap();
        }
    }
}

/// Starts headless-dns on `manifests` for example.com (name servers ns1.example.com with
/// glue and ns2.example.net), transfers allowed to 127.0.0.1, NOTIFYs to `secondary`;
/// with `tsig`, transfers and NOTIFYs signed with the key `transfer`.
async fn primary(manifests: &Path, secondary: u16, tsig: bool) -> headless_dns::app::Running {
    let notify = format!("127.0.0.1:{secondary}");
    let key = format!("transfer:hmac-sha256:{}", support::secondaries::SECRET);
    let mut args = vec![
        "--external-zone",
        "example.com",
        "--external-nameserver",
        "ns1.example.com=192.0.2.53",
        "--external-nameserver",
        "ns2.example.net",
        "--transfer-allow",
        "127.0.0.1/32",
        "--notify",
        &notify,
    ];
    if tsig {
        args.extend(["--tsig-key", &key]);
    }
    start(manifests, &args).await
}

fn external_serial(server: &headless_dns::app::Running) -> u32 {
    server.zones.load().external()[0].serial()
}

/// Waits until our NOTIFYs of both zones (cluster.local, example.com) have been answered:
/// until then a NOTIFY of a change would wait for an earlier one's backoff.
async fn notifies_answered(server: &headless_dns::app::Running, secondary: &Running) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter(&server.metrics.render(), "headless_dns_notifies_total{result=\"answered\"}") < 2 {
        assert!(
            Instant::now() < deadline,
            "{} never answered our NOTIFYs:\n{}",
            secondary.who,
            secondary.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `step`'s manifests and waits until we serve a new serial of example.com.
async fn publish(server: &headless_dns::app::Running, files: &Path, step: &Step<'_>) {
    let serial = external_serial(server);
    manifests(files, step.brokers, step.edits);
    let deadline = Instant::now() + Duration::from_secs(10);
    while external_serial(server) == serial {
        assert!(Instant::now() < deadline, "{}: never served", step.what);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every name of the scenario: the apex and its name servers, each Service's name H, the
/// brokers under both headless Services (kafka-3 beyond the replicas until scaled up), the
/// SRV names and `_tcp` above them, names that never exist, and every owner of the zone
/// we serve now (the renamed Service's names too).
fn names(server: &headless_dns::app::Running) -> Vec<String> {
    let mut names: Vec<String> = ["", "ns1.", "ns2.", "nothing.", "_tcp.kafka.", "_tcp.broker."]
        .iter()
        .chain(&["kafka.", "_client._tcp.kafka.", "broker.", "_external._tcp.broker.", "bootstrap."])
        .chain(&["_client._tcp.bootstrap.", "nothing.kafka."])
        .map(|prefix| format!("{prefix}{ZONE}"))
        .collect();
    for h in ["kafka", "broker"] {
        names.extend((0..4).map(|i| format!("kafka-{i}.{h}.{ZONE}")));
    }
    let records = server.zones.load().zone_records(headless_dns::zone::zonefile::ZoneFile::External(0));
    names.extend(records.iter().map(|r| r.name.to_string().to_lowercase()));
    names.sort();
    names.dedup();
    names
}

/// Asks every name for SOA, NS, A, AAAA, TXT, SRV and CNAME of us and of `secondary`: the
/// same response code and answer records. Returns how many names are pending on ours
/// (NOERROR, a "pending: ..." TXT and no address).
async fn same_everywhere(server: &headless_dns::app::Running, secondary: &Running, step: &str) -> usize {
    let ours = server.dns_addrs[0];
    let (code, soa) = answer(secondary.addr, ZONE, RecordType::SOA).await;
    assert!(code == ResponseCode::NoError && soa.len() == 1, "{}, {step}: serves {ZONE}", secondary.who);
    let mut pending = 0;
    let types = [RecordType::SOA, RecordType::NS, RecordType::A, RecordType::AAAA, RecordType::TXT];
    for name in names(server) {
        for qtype in types.into_iter().chain([RecordType::SRV, RecordType::CNAME]) {
            let (a, b) = (answer(ours, &name, qtype).await, answer(secondary.addr, &name, qtype).await);
            assert_eq!(
                a,
                b,
                "{}, {step}: {name} {qtype} (ours, theirs)\n{}",
                secondary.who,
                secondary.logs()
            );
            if qtype == RecordType::TXT && a.1.iter().any(|r| r.contains("pending: ")) {
                let (code, addresses) = answer(ours, &name, RecordType::A).await;
                assert_eq!((code, addresses.len()), (ResponseCode::NoError, 0), "{step}: {name} is NODATA");
                pending += 1;
            }
        }
    }
    pending
}

/// One change of the scenario after config/external, cumulative.
struct Step<'a> {
    what: &'a str,
    brokers: &'a [Broker],
    edits: &'a [(&'a str, &'a str)],
    /// How many names are pending after it.
    pending: usize,
    /// A name the secondary must then answer with these addresses (none: NODATA).
    check: (&'a str, &'a [&'a str]),
}

fn steps() -> [Step<'static>; 8] {
    const MOVED: Broker = (0, 'c', "10.244.3.30", true);
    const READY: Broker = (2, 'c', "10.244.3.22", true);
    const NODE_B: (&str, &str) = ("203.0.113.12", "203.0.113.22");
    let step = |what, brokers, edits, pending, check| Step { what, brokers, edits, pending, check };
    [
        step(
            "kafka-0 rescheduled to node-c with a new IP",
            &[MOVED, DEMO[1], DEMO[2]],
            &[],
            2,
            ("kafka-0.kafka.example.com.", &["10.244.3.30"]),
        ),
        step(
            "kafka-2 ready",
            &[MOVED, DEMO[1], READY],
            &[],
            0,
            ("kafka-2.kafka.example.com.", &["10.244.3.22"]),
        ),
        step(
            "node-b's ExternalIP changed",
            &[MOVED, DEMO[1], READY],
            &[NODE_B],
            0,
            ("kafka-1.broker.example.com.", &["203.0.113.22"]),
        ),
        step(
            "the load balancer's address changed",
            &[MOVED, DEMO[1], READY],
            &[NODE_B, LB],
            0,
            ("bootstrap.example.com.", &["198.51.100.20"]),
        ),
        step("kafka-1's pod deleted", &[MOVED, READY], &[NODE_B, LB], 2, ("kafka-1.kafka.example.com.", &[])),
        step("scaled up to 5", &[MOVED, READY], &[NODE_B, LB, FIVE], 6, ("kafka-4.broker.example.com.", &[])),
        step(
            "kafka's TTL changed to 60",
            &[MOVED, READY],
            &[NODE_B, LB, FIVE, TTL],
            6,
            ("kafka-0.kafka.example.com.", &["10.244.3.30"]),
        ),
        step(
            "kafka renamed streams.example.com",
            &[MOVED, READY],
            &[NODE_B, LB, FIVE, TTL, RENAMED],
            6,
            ("kafka-0.streams.example.com.", &["10.244.3.30"]),
        ),
    ]
}

const LB: (&str, &str) = ("ip: 198.51.100.10", "ip: 198.51.100.20");
const FIVE: (&str, &str) = ("replicas: 3", "replicas: 5");
const TTL: (&str, &str) = ("ttl: \"30\"", "ttl: \"60\"");
const RENAMED: (&str, &str) = ("hostname: kafka.example.com", "hostname: streams.example.com");

async fn follows(secondary: Secondary, tsig: bool) {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("manifests");
    std::fs::create_dir(&files).unwrap();
    manifests(&files, &DEMO, &[]);
    let port = support::ports::free_port();
    let server = primary(&files, port, tsig).await;
    if tsig {
        // An unsigned transfer of the external zone is refused, as the cluster zone's is.
        let request = support::xfer::request(ZONE, RecordType::AXFR, None);
        let replies = support::xfer::transfer(server.dns_addrs[0], &request).await;
        let code = replies.first().map(|m| m.metadata.response_code);
        assert_eq!(code, Some(ResponseCode::Refused), "an unsigned AXFR of {ZONE} with --tsig-key");
    }
    let mut running =
        Running::start_zone(&secondary, "example.com", dir.path(), port, server.dns_addrs[0], tsig);
    let started = Instant::now();
    running.wait_for_serial(external_serial(&server)).await;
    eprintln!("{}: first transfer of {ZONE} in {:?}", running.who, started.elapsed());
    // kafka-2 starting, under kafka.example.com and broker.example.com.
    assert_eq!(same_everywhere(&server, &running, "after the AXFR").await, 2, "kafka-2 is pending");
    notifies_answered(&server, &running).await;

    let before = server.metrics.render();
    for step in steps() {
        publish(&server, &files, &step).await;
        let changed = Instant::now();
        running.wait_for_serial(external_serial(&server)).await;
        eprintln!("{}: {}: serial served {:?} after ours", running.who, step.what, changed.elapsed());
        let pending = same_everywhere(&server, &running, step.what).await;
        assert_eq!(pending, step.pending, "{}: pending names", step.what);
        let (name, expected) = step.check;
        let reply =
            support::dns::query(&mut support::dns::udp(running.addr).await, name, RecordType::A).await;
        let found = (reply.metadata.response_code, addresses(&reply));
        let expected = expected.iter().map(|a| a.to_string()).collect();
        assert_eq!(found, (ResponseCode::NoError, expected), "{}, {}: {name}", running.who, step.what);
    }
    let after = server.metrics.render();
    let steps = steps().len() as u64;
    assert!(
        incremental_transfers(&after) >= incremental_transfers(&before) + steps,
        "{}: each step by IXFR",
        running.who
    );
    assert_eq!(full_transfers(&after), full_transfers(&before), "{}: no second full transfer", running.who);
    running.stop().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn knot_serves_the_external_zone_as_we_do() {
    follows(knot_secondary(), false).await;
}

#[tokio::test]
async fn knot_takes_the_external_zone_with_tsig() {
    follows(knot_secondary(), true).await;
}

#[tokio::test]
async fn nsd_serves_the_external_zone_as_we_do() {
    follows(nsd_secondary(), false).await;
}

#[tokio::test]
async fn bind_serves_the_external_zone_as_we_do() {
    follows(bind_secondary(), false).await;
}

/// Whether `records` hold an RRSIG over `covered` made by the zone's keys.
fn signed(records: &[hickory_proto::rr::Record], covered: RecordType) -> bool {
    records.iter().any(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
            sig.input().type_covered == covered
                && sig.input().signer_name.to_string().eq_ignore_ascii_case(ZONE)
        }
        _ => false,
    })
}

/// Asks `addr` (DO and AD set) until `check` accepts the answer; `limit` from `since`.
async fn until(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    since: Instant,
    limit: Duration,
    check: impl Fn(&Message) -> bool,
    logs: impl Fn() -> String,
) -> Message {
    loop {
        let reply = dnssec_query(addr, name, qtype).await;
        match reply {
            Some(reply) if check(&reply) => return reply,
            _ if since.elapsed() > limit => {
                panic!("{name} {qtype} from {addr}: not as expected {limit:?} after: {reply:?}\n{}", logs())
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Asserts `reply` is a signed NODATA for `name`: NOERROR, no answer, the SOA and an NSEC
/// (or NSEC3) proof in the authority section, each with its RRSIG.
fn assert_signed_nodata(reply: &Message, name: &str) {
    let context = format!("{name}: a signed NODATA: {reply:?}");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{context}");
    assert!(reply.answers.is_empty(), "{context}");
    let authority = &reply.authorities;
    assert!(signed(authority, RecordType::SOA), "{context}");
    let nsec = authority.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some((r.name.to_string(), nsec.type_set().clone())),
        _ => None,
    });
    match nsec {
        Some((owner, types)) => {
            assert!(owner.eq_ignore_ascii_case(name), "{context}: the NSEC is the name's own");
            assert!(types.contains(RecordType::TXT) && !types.contains(RecordType::A), "{context}");
            assert!(signed(authority, RecordType::NSEC), "{context}");
        }
        None => assert!(signed(authority, RecordType::NSEC3), "{context}: no NSEC or NSEC3 proof"),
    }
}

/// Knot as the signing secondary of example.com (`dnssec-signing: on`) and unbound
/// validating it with Knot's key as trust anchor: a broker rescheduled is served by Knot,
/// signed, within 3 s of its manifest's edit, and by unbound with the AD bit; a pending
/// broker is a signed NODATA (never NXDOMAIN) and validates as such.
#[tokio::test]
async fn knot_signs_the_external_zone_and_unbound_validates_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("manifests");
    std::fs::create_dir(&files).unwrap();
    manifests(&files, &DEMO, &[]);
    let port = support::ports::free_port();
    let server = primary(&files, port, false).await;
    let signing = knot_signing_secondary();
    let mut knot = Running::start_zone(&signing, "example.com", dir.path(), port, server.dns_addrs[0], false);
    let started = Instant::now();
    let (kafka0, kafka1, kafka2) =
        ("kafka-0.kafka.example.com.", "kafka-1.kafka.example.com.", "kafka-2.kafka.example.com.");
    let has = |ip: &'static str| move |m: &Message| addresses(m) == [ip] && signed(&m.answers, RecordType::A);
    until(knot.addr, kafka0, RecordType::A, started, Duration::from_secs(20), has("10.244.1.20"), || {
        knot.logs()
    })
    .await;
    eprintln!("knotd: first transfer signed {:?} after it started", started.elapsed());
    knot.assert_running();

    // The trust anchor: the key-signing key Knot publishes, its DNSKEY RRset signed.
    let keys = dnssec_query(knot.addr, ZONE, RecordType::DNSKEY).await.expect("Knot answers");
    assert!(signed(&keys.answers, RecordType::DNSKEY), "the DNSKEY RRset is signed: {keys:?}");
    let ksk = keys
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) if key.secure_entry_point() => {
                Some(format!("{ZONE} DNSKEY {key}"))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("a KSK among {keys:?}"));

    // The pending broker: a signed NODATA, its TXT signed.
    assert_signed_nodata(&dnssec_query(knot.addr, kafka2, RecordType::A).await.unwrap(), kafka2);
    let txt = dnssec_query(knot.addr, kafka2, RecordType::TXT).await.unwrap();
    let pending =
        txt.answers.iter().any(|r| matches!(&r.data, RData::TXT(t) if t.to_string().contains("pending: ")));
    assert!(pending && signed(&txt.answers, RecordType::TXT), "kafka-2's TXT, signed: {txt:?}");

    // unbound validates kafka-1's address and kafka-2's NODATA.
    let resolver_port = support::ports::free_port();
    let knot_addr = knot.addr;
    let configure = |state: &Path| unbound_validator(state, resolver_port, ZONE, knot_addr, &ksk);
    let unbound = Running::spawn("unbound", "unbound", ZONE, dir.path(), resolver_port, configure);
    let validated = |ip: &'static str| {
        move |m: &Message| {
            m.metadata.authentic_data
                && m.metadata.response_code == ResponseCode::NoError
                && addresses(m) == [ip]
        }
    };
    let logs = || format!("{}\n{}", unbound.logs(), knot.logs());
    let now = Instant::now();
    until(unbound.addr, kafka1, RecordType::A, now, Duration::from_secs(10), validated("10.244.2.21"), logs)
        .await;
    let nodata = dnssec_query(unbound.addr, kafka2, RecordType::A).await.unwrap();
    let validated_nodata = nodata.metadata.authentic_data && nodata.answers.is_empty();
    assert!(
        validated_nodata && nodata.metadata.response_code == ResponseCode::NoError,
        "{nodata:?}\n{}",
        logs()
    );

    // kafka-0 rescheduled: signed by Knot and validated by unbound within 3 s of the edit.
    notifies_answered(&server, &knot).await;
    let before = incremental_transfers(&server.metrics.render());
    let (serial, limit) = (external_serial(&server), Duration::from_secs(3));
    let edited = Instant::now();
    manifests(&files, &[(0, 'c', "10.244.3.30", true), DEMO[1], DEMO[2]], &[]);
    while external_serial(&server) == serial {
        assert!(edited.elapsed() < limit, "we never served the change");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ours = edited.elapsed();
    until(knot.addr, kafka0, RecordType::A, edited, limit, has("10.244.3.30"), || knot.logs()).await;
    let signed_after = edited.elapsed();
    until(unbound.addr, kafka0, RecordType::A, edited, limit, validated("10.244.3.30"), logs).await;
    eprintln!(
        "manifest edited: served by us after {ours:?}, signed by Knot after {signed_after:?}, validated by unbound after {:?}",
        edited.elapsed()
    );
    assert!(
        incremental_transfers(&server.metrics.render()) > before,
        "Knot followed by IXFR:\n{}",
        knot.logs()
    );
    assert_signed_nodata(&dnssec_query(knot.addr, kafka2, RecordType::A).await.unwrap(), kafka2);
    unbound.stop().await;
    knot.stop().await;
    server.stop().await.unwrap();
}
