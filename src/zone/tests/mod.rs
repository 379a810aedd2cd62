//! Unit tests of the zone: cluster objects in (from YAML documents, read by the objects'
//! own deserializer: [`crate::cluster::testing`]), answers out. No source, no index:
//! what the index adds (serials, journals, incremental commits) is tested there.

pub(crate) mod multicluster;
pub(crate) mod pods;
pub(crate) mod readiness;
mod rules;
pub(crate) mod services;
pub(crate) mod slices;
mod srv;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cluster::testing;
use crate::zone::{Answer, Zone, ZoneSettings, Zones};

pub(crate) fn pod(name: &str, extra_spec: &str, ips: &[&str], ready: bool, extra_meta: &str) -> String {
    let ip_list: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ns, labels: {{app: web}}{extra_meta}}}\n\
         spec: {{containers: [{{ports: [{{name: http, containerPort: 8080}}, {{name: dns, containerPort: 5353, protocol: UDP}}]}}]{extra_spec}}}\n\
         status: {{podIPs: [{}], conditions: [{{type: Ready, status: \"{}\"}}]}}\n---\n",
        ip_list.join(", "),
        if ready { "True" } else { "False" }
    )
}

pub(crate) fn sts_pod(name: &str, ips: &[&str], ready: bool) -> String {
    pod(name, &format!(", hostname: {name}, subdomain: svc1"), ips, ready, "")
}

pub(crate) const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
spec: {clusterIP: None, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: raw, port: 81}, {name: dns, port: 53, protocol: UDP, targetPort: dns}, {name: missing, port: 82, targetPort: nope}, {port: 83}]}\n---\n";

/// Service `svc1` with two StatefulSet pods (one dual-stack) and a stray pod.
pub(crate) fn basic() -> Zone {
    zone(&format!(
        "{SERVICE}{}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2", "fd00::2"], true),
        pod("stray", "", &["10.0.0.3"], true, ""),
    ))
}

/// The synced cluster zone of `yaml` (default settings).
pub(crate) fn zone(yaml: &str) -> Zone {
    zone_with(ZoneSettings::new("cluster.local").unwrap(), yaml)
}

/// The synced cluster zone of `yaml` with `settings`.
pub(crate) fn zone_with(settings: ZoneSettings, yaml: &str) -> Zone {
    let mut zone = Zone::new(settings);
    zone.rebuild_all(&testing::state(yaml));
    zone.set_synced(true);
    zone
}

/// The synced zones of `yaml` with `settings` (the multicluster zone when they name one).
pub(crate) fn zones_with(settings: ZoneSettings, yaml: &str) -> Zones {
    let mut zones = Zones::new(settings);
    zones.rebuild_all(&testing::state(yaml));
    zones.set_synced(true, true);
    zones
}

/// What answers questions: one zone, or the set of them.
pub(crate) trait Ask {
    /// The answer to `name`/`qtype`.
    fn answer(&self, name: &Name, qtype: RecordType) -> Answer;
}

impl Ask for Zone {
    fn answer(&self, name: &Name, qtype: RecordType) -> Answer {
        self.lookup(name, qtype, DNSClass::IN)
    }
}

impl Ask for Zones {
    fn answer(&self, name: &Name, qtype: RecordType) -> Answer {
        self.lookup(name, qtype, DNSClass::IN)
    }
}

pub(crate) fn ask(zone: &impl Ask, name: &str, qtype: RecordType) -> Answer {
    zone.answer(&Name::from_ascii(name).unwrap(), qtype)
}

pub(crate) fn data(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(|r| format!("{} {}", r.name, r.data)).collect();
    out.sort();
    out
}

pub(crate) fn assert_nodata(answer: &Answer, soa_minimum: u32) {
    assert_eq!(answer.rcode, ResponseCode::NoError);
    assert!(answer.authoritative);
    assert!(answer.answers.is_empty(), "{:?}", answer.answers);
    let [soa] = &answer.authorities[..] else { panic!("expected one SOA, got {:?}", answer.authorities) };
    let RData::SOA(data) = &soa.data else { panic!("not an SOA: {soa:?}") };
    assert_eq!(data.minimum, soa_minimum);
    assert_eq!(soa.ttl, soa_minimum.min(5), "RFC 2308: SOA TTL is min(TTL, minimum)");
}

pub(crate) fn assert_nxdomain(answer: &Answer) {
    assert_eq!(answer.rcode, ResponseCode::NXDomain);
    assert!(answer.authoritative);
    assert!(answer.answers.is_empty());
    assert_eq!(answer.authorities.len(), 1);
    assert_eq!(answer.authorities[0].record_type(), RecordType::SOA);
}
