//! Random sequences of updates (apply, delete, keep, resync, replace-all, synced, commit)
//! on a tiny cluster, fed to `Index`; after every commit the published `Zone` is compared,
//! name by name, with an independent model of the DNS rules computed from the model's
//! own list of objects (never through the crate's `build` functions).
//!
//! The universe: namespaces `default`/`other`; services `nginx`/`db`; pods `web-0`, `web-1`,
//! `p`, `q`; one StatefulSet `web`; addresses from a pool of IPv4 and IPv6 addresses.
//!
//! The rules (docs/record-rules.md):
//! - a service is served when it is headless and has a selector; endpoints are the
//!   selected pods of its namespace with an IP and not in a terminal phase (Failed,
//!   Succeeded); an endpoint is ready when the service publishes not-ready addresses, or
//!   the pod is Ready and not terminating;
//! - label: the lower-cased hostname when `hostname` is set and `subdomain` is the
//!   service's name, else the dashed IP (per IP);
//! - `<svc>`: A/AAAA of every ready IP; NXDOMAIN when there is none; SRV: one record per
//!   (label, endpoint port) over every port, named or not, any protocol, each pair once,
//!   weight max(1, 100/N), the targets' A/AAAA in Additional; no such pair: NODATA;
//! - `<label>.<svc>`: that label's IPs; with none, a known identity (a StatefulSet ordinal
//!   in `start..start+replicas` whose serviceName is the service, or a selected pod whose
//!   hostname applies but that has no ready address) is NODATA with the short pending
//!   negative TTL, anything else NXDOMAIN;
//! - `_<port>._<proto>.<svc>`: one SRV per (label, endpoint port) for named ports, priority 0,
//!   weight max(1, 100/N), the A/AAAA of the targets in Additional; no targets: NXDOMAIN;
//! - `_<proto>.<svc>`: an empty non-terminal when some SRV name exists below it;
//! - PTR of an IP: `<label>.<svc>.<ns>.svc.<zone>.` for every served service publishing it;
//!   shorter reverse names are empty non-terminals when an address lies below them;
//! - `<ns>.svc`: an empty non-terminal when a served service exists in the namespace;
//! - a ClusterIP service (not headless, with cluster IPs) answers its cluster IPs, SRV
//!   `0 100 <port> <svc>.<ns>.svc.<zone>.` for its named ports (cluster IPs as glue), a
//!   PTR for each cluster IP, and nothing below its name; without a cluster IP it does
//!   not exist;
//! - an ExternalName service answers a CNAME to its target, followed (at most 8 CNAMEs)
//!   while the target is a service name inside the zone, and nothing below its name;
//! - a headless service without a selector takes its endpoints from the EndpointSlices
//!   naming it that the EndpointSlice controller does not manage: ready unless
//!   `ready: false`, the lower-cased hostname when a DNS label else the dashed address,
//!   a not-ready hostname is a known identity, each slice's named ports give SRV targets;
//! - `a-b-c-d.<ns>.pod.<zone>` (verified, the default) answers the address when a pod
//!   of that namespace not in a terminal phase has it; `<ns>.pod.<zone>` always exists;
//! - every negative answer carries the zone's SOA; not synced: SERVFAIL;
//! - the SOA serial moves forward, and changes whenever any answer changes.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use headless_dns::cluster::SharedStr;
use headless_dns::cluster::{
    ContainerPort, EndpointSlice, Kind, Naming, Object, ObjectKey, Phase, Pod, PodTemplate, Protocol, Service, ServicePort, SliceEndpoint,
    SlicePort, StatefulSet, TargetPort,
};
use headless_dns::cluster::objects::Labels;
use headless_dns::index::{Index, Update};
use headless_dns::zone::{Zone, ZoneSettings};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use libfuzzer_sys::fuzz_target;

/// `HDNS_FUZZ_STATS=1` prints what each check covered (how rich the model's state was).
/// (A selected pod whose hostname applies but that has no IP yet is a pending identity:
/// this target found the crate answering NXDOMAIN for it, now fixed.)
static STATS: LazyLock<bool> = LazyLock::new(|| std::env::var_os("HDNS_FUZZ_STATS").is_some_and(|v| v == "1"));


const ORIGIN: &str = "cluster.local.";
const NEGATIVE_TTL: u32 = 5;
const PENDING_TTL: u32 = 1;
const NAMESPACES: [&str; 2] = ["default", "other"];
const SERVICES: [&str; 2] = ["nginx", "db"];
const PODS: [&str; 4] = ["web-0", "web-1", "p", "q"];
const STATEFULSET: &str = "web";
const CLUSTER_IPS: [&str; 2] = ["10.96.0.1", "fd00:96::1"];
/// ExternalName targets: outside the zone, a served name, another namespace's, nobody's.
const EXTERNALS: [(&str, Option<(&str, &str)>); 4] = [
    ("db.example.com", None),
    ("nginx.default.svc.cluster.local", Some(("default", "nginx"))),
    ("db.other.svc.cluster.local", Some(("other", "db"))),
    ("nope.default.svc.cluster.local", Some(("default", "nope"))),
];
const SLICES: [&str; 2] = ["s1", "s2"];
const IPS: [&str; 6] = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "fd00::1", "fd00::2", "fd00::1:1"];
const HOSTNAMES: [Option<&str>; 7] =
    [None, Some("web-0"), Some("web-1"), Some("web-3"), Some("solo"), Some("Web-1"), Some("10-0-0-1")];
const SUBDOMAINS: [Option<&str>; 4] = [None, Some("nginx"), Some("db"), Some("elsewhere")];
/// Container ports: (name, number, protocol); unique by (name, protocol).
const CONTAINER_PORTS: [(&str, u16, Protocol); 4] = [
    ("http", 8080, Protocol::Tcp),
    ("metrics", 9090, Protocol::Tcp),
    ("http", 8081, Protocol::Udp),
    ("dns", 5353, Protocol::Udp),
];
const PORT_NAMES: [Option<&str>; 5] = [None, Some("web"), Some("Web"), Some("metrics"), Some("http")];
const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
/// Labels asked for under every service (besides the dashed pool IPs).
const LABELS: [&str; 8] = ["web-0", "web-1", "web-2", "web-3", "web-4", "web-5", "solo", "nope"];
/// SRV port labels asked for.
const SRV_PORTS: [&str; 3] = ["web", "metrics", "http"];

// ---------------------------------------------------------------- the input

#[derive(Arbitrary, Debug, Clone)]
struct PodSpec {
    other_ns: bool,
    name: u8,
    app: u8,
    tier: bool,
    hostname: u8,
    subdomain: u8,
    ip1: u8,
    ip2: u8,
    ready: bool,
    terminating: bool,
    /// 0–2: Running, 3: Failed, 4: Succeeded, else absent.
    phase: u8,
    ports: u8,
}

#[derive(Arbitrary, Debug, Clone)]
struct PortSpec {
    name: u8,
    protocol: u8,
    port53: bool,
    target: u8,
}

#[derive(Arbitrary, Debug, Clone)]
struct ServiceSpec {
    other_ns: bool,
    name: bool,
    headless: u8,
    selector: u8,
    port_count: u8,
    ports: [PortSpec; 3],
    publish_not_ready: bool,
    /// Not headless: 0 no cluster IP yet, 1 IPv4, 2 dual-stack, else an ExternalName.
    cluster: u8,
}

#[derive(Arbitrary, Debug, Clone)]
struct SliceEndpointSpec {
    ip: u8,
    hostname: u8,
    /// 0 absent (ready), 1 true, 2 false.
    ready: u8,
}

#[derive(Arbitrary, Debug, Clone)]
struct SliceSpec {
    other_ns: bool,
    name: u8,
    service: u8,
    /// 0/3 an operator, 1 the EndpointSlice controller, 2 no service label.
    manager: u8,
    count: u8,
    endpoints: [SliceEndpointSpec; 2],
    port_name: u8,
    port5432: bool,
}

#[derive(Arbitrary, Debug, Clone)]
struct StatefulSetSpec {
    other_ns: bool,
    service: u8,
    replicas: u8,
    start: u8,
}

#[derive(Arbitrary, Debug, Clone)]
enum ObjectSpec {
    Pod(PodSpec),
    Service(ServiceSpec),
    StatefulSet(StatefulSetSpec),
    Slice(SliceSpec),
}

#[derive(Arbitrary, Debug, Clone)]
struct KeySpec {
    kind: u8,
    other_ns: bool,
    name: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Apply(ObjectSpec),
    Delete(KeySpec),
    Keep(KeySpec),
    BeginResync(u8),
    FinishResync(u8),
    ReplaceAll(Vec<ObjectSpec>),
    Synced(bool),
    Commit,
}

/// Decoded by hand from a tag byte so that the common operations (applying pods and
/// services, committing) dominate and nothing reads lengths from the end of the input.
impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let tag: u8 = u.arbitrary()?;
        Ok(match tag % 20 {
            0..=5 => Op::Apply(ObjectSpec::Pod(u.arbitrary()?)),
            6..=8 => Op::Apply(ObjectSpec::Service(u.arbitrary()?)),
            9 => Op::Apply(ObjectSpec::StatefulSet(u.arbitrary()?)),
            10 | 11 => Op::Delete(u.arbitrary()?),
            12 => Op::Keep(u.arbitrary()?),
            13 => Op::BeginResync(u.arbitrary()?),
            14 => Op::FinishResync(u.arbitrary()?),
            15 => {
                let n: u8 = u.arbitrary()?;
                let specs: [ObjectSpec; 4] = u.arbitrary()?;
                Op::ReplaceAll(specs.into_iter().take(usize::from(n % 5)).collect())
            }
            // Mostly back in sync: an unsynced zone only answers SERVFAIL.
            16 => Op::Synced(u.arbitrary::<u8>()? % 4 != 0),
            17 => Op::Apply(ObjectSpec::Slice(u.arbitrary()?)),
            _ => Op::Commit,
        })
    }
}

fn ns(other: bool) -> &'static str {
    NAMESPACES[usize::from(other)]
}

/// Labels as the crate keeps them: a sorted list of pairs.
fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut labels: Vec<(SharedStr, SharedStr)> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    labels.sort();
    labels.into()
}

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey { namespace: namespace.into(), name: name.into() }
}

fn pick<T: Copy>(options: &[T], i: u8) -> T {
    options[usize::from(i) % options.len()]
}

/// The kinds the model covers: the cluster zone's (the clusterset zone's kinds are
/// covered by the unit tests of `zone/tests_clusterset.rs`).
const MODELLED: [Kind; 4] = [Kind::Pod, Kind::Service, Kind::StatefulSet, Kind::EndpointSlice];

fn kind(i: u8) -> Kind {
    pick(&MODELLED, i)
}

impl ObjectSpec {
    fn build(&self) -> Object {
        match self {
            ObjectSpec::Pod(p) => {
                let mut pairs = Vec::new();
                match p.app % 3 {
                    1 => pairs.push(("app", "a")),
                    2 => pairs.push(("app", "b")),
                    _ => {}
                }
                if p.tier {
                    pairs.push(("tier", "x"));
                }
                let mut ips: Vec<IpAddr> = Vec::new();
                for i in [p.ip1, p.ip2] {
                    // 7 choices: a pool address or none.
                    if let Some(ip) = IPS.get(usize::from(i) % (IPS.len() + 1)) {
                        let ip = ip.parse().expect("pool address");
                        if !ips.contains(&ip) {
                            ips.push(ip);
                        }
                    }
                }
                let ports: Vec<ContainerPort> = CONTAINER_PORTS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| p.ports & (1 << i) != 0)
                    .map(|(_, (name, port, protocol))| ContainerPort {
                        name: (*name).into(),
                        port: *port,
                        protocol: *protocol,
                    })
                    .collect();
                let pod_name = pick(&PODS, p.name);
                Object::Pod(Arc::new(Pod {
                    key: key(ns(p.other_ns), pod_name),
                    template: PodTemplate::new(
                        labels(&pairs),
                        Naming::new(
                            pick(&HOSTNAMES, p.hostname).map(Into::into),
                            pick(&SUBDOMAINS, p.subdomain).map(Into::into),
                            pod_name,
                        ),
                        Arc::new(ports.into()),
                    ),
                    ips: ips.into(),
                    ready_condition: p.ready,
                    terminating: p.terminating,
                    phase: match p.phase % 6 {
                        0..=2 => Phase::Running,
                        3 => Phase::Failed,
                        4 => Phase::Succeeded,
                        _ => Phase::Unknown,
                    },
                    placement: headless_dns::cluster::Placement::NONE,
                }))
            }
            ObjectSpec::Service(s) => {
                let selector = match s.selector % 4 {
                    0 => None,
                    1 => Some(labels(&[("app", "a")])),
                    2 => Some(labels(&[("app", "b")])),
                    _ => Some(labels(&[("app", "a"), ("tier", "x")])),
                };
                let mut ports: Vec<ServicePort> = Vec::new();
                for p in s.ports.iter().take(usize::from(s.port_count % 4)) {
                    let name = pick(&PORT_NAMES, p.name);
                    // Kubernetes requires port names to be unique within a service.
                    if let Some(n) = name {
                        if ports.iter().any(|q| q.name.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(n))) {
                            continue;
                        }
                    }
                    let port = if p.port53 { 53 } else { 80 };
                    let target_port = match p.target % 5 {
                        0 => TargetPort::Number(port),
                        1 => TargetPort::Number(8080),
                        2 => TargetPort::Name("http".into()),
                        3 => TargetPort::Name("metrics".into()),
                        _ => TargetPort::Number(9090),
                    };
                    ports.push(ServicePort {
                        name: name.map(Into::into),
                        protocol: pick(&PROTOCOLS, p.protocol),
                        port,
                        target_port,
                    });
                }
                // Mostly headless: that is where the records are.
                let headless = s.headless % 4 != 0;
                let (cluster_ips, external_name): (Vec<IpAddr>, _) = match s.cluster % 6 {
                    _ if headless => (vec![], None),
                    0 => (vec![], None),
                    1 => (vec![CLUSTER_IPS[0].parse().expect("ip")], None),
                    2 => (CLUSTER_IPS.iter().map(|ip| ip.parse().expect("ip")).collect(), None),
                    n => (vec![], Some(EXTERNALS[usize::from(n - 3 + s.cluster / 6 % 2) % 4].0.into())),
                };
                Object::Service(Arc::new(Service {
                    key: key(ns(s.other_ns), SERVICES[usize::from(s.name)]),
                    headless,
                    selector,
                    ports: ports.into(),
                    publish_not_ready: s.publish_not_ready,
                    cluster_ips: cluster_ips.into(),
                    external_name,
                    external: None,
                }))
            }
            ObjectSpec::Slice(s) => {
                let mut endpoints = Vec::new();
                for e in s.endpoints.iter().take(usize::from(s.count % 3)) {
                    let ip: IpAddr = pick(&IPS, e.ip).parse().expect("pool address");
                    endpoints.push(SliceEndpoint {
                        addresses: Box::new([ip]),
                        hostname: pick(&HOSTNAMES, e.hostname).map(Into::into),
                        ready: e.ready % 3 != 2,
                    });
                }
                let port_name = pick(&[Some("web"), Some("Metrics"), None], s.port_name);
                Object::EndpointSlice(Arc::new(EndpointSlice {
                    key: key(ns(s.other_ns), pick(&SLICES, s.name)),
                    service_name: (s.manager % 4 != 2).then(|| pick(&SERVICES, s.service).into()),
                    managed_by_controller: s.manager % 4 == 1,
                    multicluster: None,
                    endpoints,
                    ports: vec![SlicePort {
                        name: port_name.map(Into::into),
                        protocol: Protocol::Tcp,
                        port: if s.port5432 { 5432 } else { 8080 },
                    }],
                }))
            }
            ObjectSpec::StatefulSet(s) => Object::StatefulSet(Arc::new(StatefulSet {
                key: key(ns(s.other_ns), STATEFULSET),
                service_name: pick(&["nginx", "db", "missing"], s.service).into(),
                replicas: u32::from(s.replicas % 5),
                ordinal_start: u32::from(s.start % 3),
            })),
        }
    }
}

impl KeySpec {
    fn build(&self) -> (Kind, ObjectKey) {
        let kind = kind(self.kind);
        let name = match kind {
            Kind::Pod => pick(&PODS, self.name),
            Kind::Service => pick(&SERVICES, self.name),
            Kind::StatefulSet => STATEFULSET,
            Kind::EndpointSlice => pick(&SLICES, self.name),
            other => unreachable!("not modelled: {other:?}"),
        };
        (kind, key(ns(self.other_ns), name))
    }
}

// ---------------------------------------------------------------- the model

#[derive(Default, Debug)]
struct Model {
    objects: BTreeMap<(Kind, ObjectKey), Object>,
    resync: BTreeMap<Kind, BTreeSet<ObjectKey>>,
    synced: bool,
}

impl Model {
    fn apply(&mut self, object: Object) {
        let k = (object.kind(), object.key().clone());
        if let Some(seen) = self.resync.get_mut(&k.0) {
            seen.insert(k.1.clone());
        }
        // The EndpointSlice controller's slices, and slices of no service, are not kept.
        if let Object::EndpointSlice(slice) = &object
            && (slice.managed_by_controller || slice.service_name.is_none())
        {
            self.objects.remove(&k);
            return;
        }
        self.objects.insert(k, object);
    }

    fn keep(&mut self, kind: Kind, key: ObjectKey) {
        if let Some(seen) = self.resync.get_mut(&kind) {
            seen.insert(key);
        }
    }

    fn finish(&mut self, kind: Kind) {
        if let Some(seen) = self.resync.remove(&kind) {
            self.objects.retain(|(k, key), _| *k != kind || seen.contains(key));
        }
    }

    fn replace_all(&mut self, objects: Vec<Object>) {
        for kind in MODELLED {
            self.resync.insert(kind, BTreeSet::new());
            for o in objects.iter().filter(|o| o.kind() == kind) {
                self.apply(o.clone());
            }
            self.finish(kind);
        }
    }

    fn pods<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.objects.values().filter_map(move |o| match o {
            Object::Pod(p) if &*p.key.namespace == namespace => Some(&**p),
            _ => None,
        })
    }

    /// A selectorless headless service's endpoints, from the EndpointSlices naming it
    /// (the controller's are never kept): published when `ready` is not false, under the
    /// lower-cased hostname when it is a DNS label, else the dashed address; a not-ready
    /// endpoint with a hostname is a known identity. A slice's ports give SRV targets (every
    /// port in the bare RRset, named ones under `_<port>._<proto>`).
    fn slice_endpoints(&self, svc: &Service, served: &mut Served, candidates: &mut BTreeSet<String>) {
        for object in self.objects.values() {
            let Object::EndpointSlice(slice) = object else { continue };
            if slice.key.namespace != svc.key.namespace || slice.service_name.as_deref() != Some(&*svc.key.name) {
                continue;
            }
            for endpoint in &slice.endpoints {
                let hostname = endpoint.hostname.as_ref().map(|h| h.as_str().to_ascii_lowercase()).filter(|h| {
                    !h.is_empty()
                        && h.len() <= 63
                        && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !h.starts_with('-')
                        && !h.ends_with('-')
                });
                if !endpoint.ready {
                    candidates.extend(hostname);
                    continue;
                }
                for ip in endpoint.addresses.iter() {
                    let label = hostname.clone().unwrap_or_else(|| dashed(*ip));
                    served.endpoints.insert((label.clone(), *ip));
                    for port in &slice.ports {
                        served.bare.insert((label.clone(), port.port));
                        let Some(name) = named(port.name.as_deref()) else { continue };
                        let key = (name, proto(port.protocol));
                        served.srv.entry(key).or_default().insert((label.clone(), port.port));
                    }
                }
            }
        }
    }

    /// What each served service publishes, by (namespace, name).
    fn view(&self) -> View {
        let mut services = BTreeMap::new();
        for object in self.objects.values() {
            let Object::Service(svc) = object else { continue };
            if !svc.headless {
                let key = (svc.key.namespace.to_string(), svc.key.name.to_string());
                if let Some(target) = &svc.external_name {
                    let served = Served { external: Some(target.to_string()), ..Served::default() };
                    services.insert(key, served);
                } else if !svc.cluster_ips.is_empty() {
                    let ports = svc
                        .ports
                        .iter()
                        .map(|p| (named(p.name.as_deref()), proto(p.protocol), p.port))
                        .collect();
                    let served = Served { cluster: Some((svc.cluster_ips.to_vec(), ports)), ..Served::default() };
                    services.insert(key, served);
                }
                continue;
            }
            let mut served = Served::default();
            let mut candidates = BTreeSet::new();
            let mut ready_pods = Vec::new();
            if svc.selector.is_none() {
                self.slice_endpoints(svc, &mut served, &mut candidates);
            }
            let selector = svc.selector.clone().unwrap_or_default();
            for pod in self.pods(&svc.key.namespace).filter(|_| svc.selector.is_some()) {
                if !selector.iter().all(|(k, v)| pod.label_pairs().any(|(pk, pv)| pk == &**k && pv == &**v)) {
                    continue;
                }
                let hostname = match (pod.hostname(), pod.subdomain()) {
                    (Some(h), Some(s)) if **s == *svc.key.name => Some(h.as_str().to_ascii_lowercase()),
                    _ => None,
                };
                // The EndpointSlice controller's rule: a terminal phase is never an endpoint.
                let terminal = matches!(pod.phase, Phase::Failed | Phase::Succeeded);
                let ready = !terminal && (svc.publish_not_ready || (pod.ready_condition && !pod.terminating));
                // A known identity without a published address.
                if let Some(h) = &hostname {
                    let unpublished = !ready || pod.ips.is_empty();
                    if unpublished {
                        candidates.insert(h.clone());
                    }
                }
                if !ready {
                    continue;
                }
                let label = |ip: &IpAddr| hostname.clone().unwrap_or_else(|| dashed(*ip));
                for ip in pod.ips.iter() {
                    served.endpoints.insert((label(&ip), ip));
                }
                ready_pods.push((pod, hostname.clone()));
            }
            // A selectorless service's SRV targets come from its slices' ports.
            for port in svc.ports.iter().filter(|_| svc.selector.is_some()) {
                let mut targets = BTreeSet::new();
                for (pod, hostname) in &ready_pods {
                    let number = match &port.target_port {
                        TargetPort::Number(n) => Some(*n),
                        TargetPort::Name(n) => pod
                            .ports()
                            .iter()
                            .find(|c| c.name == *n && c.protocol == port.protocol)
                            .map(|c| c.port),
                    };
                    let Some(number) = number else { continue };
                    for ip in pod.ips.iter() {
                        targets.insert((hostname.clone().unwrap_or_else(|| dashed(ip)), number));
                    }
                }
                served.bare.extend(targets.iter().cloned());
                let Some(name) = named(port.name.as_deref()) else { continue };
                served.srv.insert((name, proto(port.protocol)), targets);
            }
            for o in self.objects.values() {
                let Object::StatefulSet(sts) = o else { continue };
                if sts.key.namespace == svc.key.namespace && *sts.service_name == *svc.key.name {
                    for i in sts.ordinal_start..sts.ordinal_start + sts.replicas {
                        candidates.insert(format!("{}-{i}", sts.key.name));
                    }
                }
            }
            served.pending =
                candidates.into_iter().filter(|l| !served.endpoints.iter().any(|(e, _)| e == l)).collect();
            services.insert((svc.key.namespace.to_string(), svc.key.name.to_string()), served);
        }
        let pod_ips = self
            .objects
            .values()
            .filter_map(|o| match o {
                Object::Pod(p) if !matches!(p.phase, Phase::Failed | Phase::Succeeded) => Some(p),
                _ => None,
            })
            .flat_map(|p| p.ips.iter().map(|ip| (p.key.namespace.to_string(), ip)))
            .collect();
        View { services, pod_ips, synced: self.synced }
    }
}

#[derive(Default, Debug)]
struct Served {
    endpoints: BTreeSet<(String, IpAddr)>,
    pending: BTreeSet<String>,
    srv: BTreeMap<(String, &'static str), BTreeSet<(String, u16)>>,
    /// A ClusterIP service: its cluster IPs and ports (name if named, protocol, port).
    cluster: Option<(Vec<IpAddr>, Vec<(Option<String>, &'static str, u16)>)>,
    /// An ExternalName service: its target.
    external: Option<String>,
    /// The bare SRV RRset on a headless service's name: every port's targets.
    bare: BTreeSet<(String, u16)>,
}

impl Served {
    fn addresses(&self, label: Option<&str>) -> BTreeSet<IpAddr> {
        self.endpoints.iter().filter(|(l, _)| label.is_none_or(|x| x == l)).map(|(_, ip)| *ip).collect()
    }
}

struct View {
    services: BTreeMap<(String, String), Served>,
    /// (namespace, address) of every pod not in a terminal phase.
    pod_ips: BTreeSet<(String, IpAddr)>,
    synced: bool,
}

/// A port's name as SRV names use it: lower-cased; absent or empty is unnamed.
fn named(name: Option<&str>) -> Option<String> {
    name.filter(|n| !n.is_empty()).map(str::to_ascii_lowercase)
}

fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn endpoint_name(namespace: &str, service: &str, label: &str) -> String {
    format!("{label}.{service}.{namespace}.svc.{ORIGIN}")
}

// ---------------------------------------------------------------- the questions

#[derive(Clone, Debug)]
enum Question {
    Service(&'static str, &'static str),
    Endpoint(&'static str, &'static str, String),
    Srv(&'static str, &'static str, &'static str, &'static str),
    Proto(&'static str, &'static str, &'static str),
    Namespace(&'static str),
    Ptr(IpAddr),
    /// A shorter reverse name: the addresses under it are `net` and prefix length.
    ReverseParent(IpAddr, u8),
    /// `a-b-c-d.<ns>.pod.<zone>`.
    PodRecord(&'static str, IpAddr),
    /// `<ns>.pod.<zone>`.
    PodNamespace,
}

struct Probe {
    question: Question,
    name: Name,
    qtype: RecordType,
    /// `name` in ASCII, as asked (answer owners must keep it).
    ascii: String,
    /// The apex whose SOA a negative answer carries.
    apex: &'static str,
    /// Asked even when the model serves no such service (the rest are skipped then, for speed).
    core: bool,
}

impl Question {
    /// The (namespace, service) the question is under, if any.
    fn service(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Question::Service(ns, svc)
            | Question::Endpoint(ns, svc, _)
            | Question::Srv(ns, svc, _, _)
            | Question::Proto(ns, svc, _) => Some((ns, svc)),
            _ => None,
        }
    }
}

static PROBES: LazyLock<Vec<Probe>> = LazyLock::new(|| {
    let mut probes = Vec::new();
    let mut add = |question: Question, name: String, qtypes: &[RecordType], core: bool| {
        let apex = if name.ends_with("in-addr.arpa.") {
            "in-addr.arpa."
        } else if name.ends_with("ip6.arpa.") {
            "ip6.arpa."
        } else {
            ORIGIN
        };
        let parsed = Name::from_ascii(&name).expect("probe name");
        for &qtype in qtypes {
            let (name, ascii) = (parsed.clone(), parsed.to_ascii());
            probes.push(Probe { question: question.clone(), name, qtype, ascii, apex, core });
        }
        if core {
            // Names are case-insensitive; answers keep the question's case.
            let name = Name::from_ascii(name.to_ascii_uppercase()).expect("probe name");
            let ascii = name.to_ascii();
            probes.push(Probe { question, name, qtype: RecordType::A, ascii, apex, core });
        }
    };
    use RecordType::{A, AAAA, PTR, SRV};
    for ns in NAMESPACES {
        add(Question::Namespace(ns), format!("{ns}.svc.{ORIGIN}"), &[A], true);
        for svc in SERVICES {
            add(Question::Service(ns, svc), format!("{svc}.{ns}.svc.{ORIGIN}"), &[A, AAAA, SRV], true);
            let dashed_ips = IPS.iter().map(|ip| dashed(ip.parse().expect("pool address")));
            for label in LABELS.iter().map(|l| l.to_string()).chain(dashed_ips) {
                let name = endpoint_name(ns, svc, &label);
                let core = ["web-1", "web-3", "solo", "10-0-0-1", "fd00--1"].contains(&&*label);
                add(Question::Endpoint(ns, svc, label), name, &[A, AAAA], core);
            }
            for p in ["tcp", "udp", "sctp"] {
                let core = p == "tcp";
                add(Question::Proto(ns, svc, p), format!("_{p}.{svc}.{ns}.svc.{ORIGIN}"), &[SRV], core);
                for port in SRV_PORTS {
                    let name = format!("_{port}._{p}.{svc}.{ns}.svc.{ORIGIN}");
                    let (core, qtypes): (bool, &[RecordType]) =
                        if (port, p) == ("web", "tcp") { (true, &[SRV, A]) } else { (false, &[SRV]) };
                    add(Question::Srv(ns, svc, port, p), name, qtypes, core);
                }
            }
        }
    }
    for ip in IPS.iter().chain(&CLUSTER_IPS) {
        let ip: IpAddr = ip.parse().expect("pool address");
        add(Question::Ptr(ip), reverse_name(ip, 0), &[PTR, A], false);
    }
    for ns in NAMESPACES {
        add(Question::PodNamespace, format!("{ns}.pod.{ORIGIN}"), &[A], true);
        for ip in IPS {
            let ip: IpAddr = ip.parse().expect("pool address");
            let core = ip == "10.0.0.1".parse::<IpAddr>().expect("ip");
            add(Question::PodRecord(ns, ip), format!("{}.{ns}.pod.{ORIGIN}", dashed(ip)), &[A, AAAA], core);
        }
    }
    for (net, len) in
        [("10.0.0.0", 24), ("10.0.1.0", 24), ("10.0.2.0", 24), ("10.0.0.0", 16), ("10.0.0.0", 8), ("10.96.0.0", 16)]
    {
        let ip: IpAddr = net.parse().expect("net");
        add(Question::ReverseParent(ip, len), reverse_name(ip, 32 - len), &[PTR], false);
    }
    for (net, len) in [("fd00::", 16), ("fd00::", 112), ("fd00::1:0", 112), ("fd01::", 16), ("fd00:96::", 32)] {
        let ip: IpAddr = net.parse().expect("net");
        add(Question::ReverseParent(ip, len), reverse_name(ip, 128 - len), &[PTR], false);
    }
    probes
});

/// The reverse name of `ip`, leaving out the last `drop_bits` bits (a multiple of 8 or 4).
fn reverse_name(ip: IpAddr, drop_bits: u8) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let keep = usize::from((32 - drop_bits) / 8);
            let mut parts: Vec<String> = v4.octets()[..keep].iter().map(u8::to_string).collect();
            parts.reverse();
            format!("{}.in-addr.arpa.", parts.join("."))
        }
        IpAddr::V6(v6) => {
            let keep = usize::from((128 - drop_bits) / 4);
            let nibbles: Vec<String> =
                v6.octets().iter().flat_map(|b| [b >> 4, b & 0xf]).map(|n| format!("{n:x}")).collect();
            let mut parts: Vec<&str> = nibbles[..keep].iter().map(String::as_str).collect();
            parts.reverse();
            format!("{}.ip6.arpa.", parts.join("."))
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// An answer, reduced to what the rules decide.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Outcome {
    rcode: ResponseCode,
    answers: BTreeSet<String>,
    additionals: BTreeSet<String>,
    /// The SOA minimum of a negative answer.
    negative: Option<u32>,
}

impl Outcome {
    fn code(rcode: ResponseCode) -> Self {
        let negative = matches!(rcode, ResponseCode::NXDomain).then_some(NEGATIVE_TTL);
        Self { rcode, answers: BTreeSet::new(), additionals: BTreeSet::new(), negative }
    }

    fn nodata(minimum: u32) -> Self {
        Self { negative: Some(minimum), ..Self::code(ResponseCode::NoError) }
    }

    fn records(answers: BTreeSet<String>, additionals: BTreeSet<String>) -> Self {
        if answers.is_empty() {
            return Self::nodata(NEGATIVE_TTL);
        }
        Self { rcode: ResponseCode::NoError, answers, additionals, negative: None }
    }
}

fn address_strings(ips: &BTreeSet<IpAddr>, qtype: RecordType, owner: Option<&str>) -> BTreeSet<String> {
    ips.iter()
        .filter(|ip| match ip {
            IpAddr::V4(_) => matches!(qtype, RecordType::A | RecordType::ANY),
            IpAddr::V6(_) => matches!(qtype, RecordType::AAAA | RecordType::ANY),
        })
        .map(|ip| {
            let t = if ip.is_ipv4() { "A" } else { "AAAA" };
            match owner {
                Some(o) => format!("{o} {t} {ip}"),
                None => format!("{t} {ip}"),
            }
        })
        .collect()
}

impl View {
    /// An ExternalName's answer: its CNAME, followed while the target is a service name
    /// in the zone (at most 8 CNAMEs), ending with the last target's own answer.
    fn follow(&self, target: &str, qtype: RecordType) -> Outcome {
        let mut answers = BTreeSet::new();
        let mut target = target.to_owned();
        for _ in 0..8 {
            answers.insert(format!("CNAME {target}."));
            let Some((_, inside)) = EXTERNALS.iter().find(|(t, _)| *t == target) else {
                unreachable!("targets come from EXTERNALS")
            };
            let Some((ns, svc)) = inside else {
                return Outcome { answers, ..Outcome::code(ResponseCode::NoError) };
            };
            if let Some(next) = self.services.get(&(ns.to_string(), svc.to_string())).and_then(|s| s.external.clone()) {
                target = next;
                continue;
            }
            let rest = self.expect(&Question::Service(ns, svc), qtype);
            answers.extend(rest.answers);
            return Outcome { answers, ..rest };
        }
        Outcome { answers, ..Outcome::code(ResponseCode::NoError) }
    }

    fn expect(&self, question: &Question, qtype: RecordType) -> Outcome {
        if !self.synced {
            return Outcome { negative: None, ..Outcome::code(ResponseCode::ServFail) };
        }
        let nx = || Outcome::code(ResponseCode::NXDomain);
        let served = |ns: &str, svc: &str| self.services.get(&(ns.to_owned(), svc.to_owned()));
        match question {
            Question::Namespace(ns) => {
                if self.services.keys().any(|(n, _)| n == ns) {
                    Outcome::nodata(NEGATIVE_TTL)
                } else {
                    nx()
                }
            }
            Question::Service(ns, svc) => match served(ns, svc) {
                Some(Served { external: Some(target), .. }) => self.follow(target, qtype),
                Some(Served { cluster: Some((ips, ports)), .. }) if qtype == RecordType::SRV => {
                    // One record per distinct service port, named or not, to the service name.
                    let numbers: BTreeSet<u16> = ports.iter().map(|(_, _, n)| *n).collect();
                    let weight = (100 / numbers.len().max(1)).max(1);
                    let target = format!("{svc}.{ns}.svc.{ORIGIN}");
                    let answers: BTreeSet<String> =
                        numbers.iter().map(|n| format!("SRV 0 {weight} {n} {target}")).collect();
                    let ips: BTreeSet<IpAddr> = ips.iter().copied().collect();
                    let additionals = if answers.is_empty() {
                        BTreeSet::new()
                    } else {
                        address_strings(&ips, RecordType::ANY, Some(&target))
                    };
                    Outcome::records(answers, additionals)
                }
                Some(Served { cluster: Some((ips, _)), .. }) => {
                    let ips: BTreeSet<IpAddr> = ips.iter().copied().collect();
                    Outcome::records(address_strings(&ips, qtype, None), BTreeSet::new())
                }
                Some(s) if !s.endpoints.is_empty() && qtype == RecordType::SRV => srv_outcome(ns, svc, s, &s.bare),
                Some(s) if !s.endpoints.is_empty() => {
                    Outcome::records(address_strings(&s.addresses(None), qtype, None), BTreeSet::new())
                }
                _ => nx(),
            },
            Question::Endpoint(ns, svc, label) => {
                let Some(s) = served(ns, svc).filter(|s| s.cluster.is_none() && s.external.is_none()) else {
                    return nx();
                };
                let ips = s.addresses(Some(label));
                if !ips.is_empty() {
                    Outcome::records(address_strings(&ips, qtype, None), BTreeSet::new())
                } else if s.pending.contains(label) {
                    Outcome::nodata(PENDING_TTL)
                } else {
                    nx()
                }
            }
            Question::Proto(ns, svc, p) => match served(ns, svc) {
                Some(Served { cluster: Some((_, ports)), .. }) if ports.iter().any(|(n, q, _)| n.is_some() && q == p) => {
                    Outcome::nodata(NEGATIVE_TTL)
                }
                Some(s) if s.srv.iter().any(|((_, q), t)| q == p && !t.is_empty()) => {
                    Outcome::nodata(NEGATIVE_TTL)
                }
                _ => nx(),
            },
            Question::Srv(ns, svc, port, p) => {
                let Some(s) = served(ns, svc) else { return nx() };
                if let Some((ips, ports)) = &s.cluster {
                    let Some((_, _, number)) = ports.iter().find(|(n, q, _)| n.as_deref() == Some(*port) && q == p) else {
                        return nx();
                    };
                    if qtype != RecordType::SRV {
                        return Outcome::nodata(NEGATIVE_TTL);
                    }
                    let target = format!("{svc}.{ns}.svc.{ORIGIN}");
                    let ips: BTreeSet<IpAddr> = ips.iter().copied().collect();
                    let additionals = address_strings(&ips, RecordType::ANY, Some(&target));
                    return Outcome::records([format!("SRV 0 100 {number} {target}")].into(), additionals);
                }
                let Some(targets) = s.srv.get(&(port.to_string(), *p)).filter(|t| !t.is_empty()) else {
                    return nx();
                };
                if qtype != RecordType::SRV {
                    return Outcome::nodata(NEGATIVE_TTL);
                }
                srv_outcome(ns, svc, s, targets)
            }
            Question::Ptr(ip) => {
                let mut names = BTreeSet::new();
                for ((ns, svc), s) in &self.services {
                    if s.cluster.as_ref().is_some_and(|(ips, _)| ips.contains(ip)) {
                        names.insert(format!("PTR {svc}.{ns}.svc.{ORIGIN}"));
                    }
                    for (label, e) in &s.endpoints {
                        if e == ip {
                            names.insert(format!("PTR {}", endpoint_name(ns, svc, label)));
                        }
                    }
                }
                if names.is_empty() {
                    nx()
                } else if qtype == RecordType::PTR {
                    Outcome::records(names, BTreeSet::new())
                } else {
                    Outcome::nodata(NEGATIVE_TTL)
                }
            }
            Question::ReverseParent(net, len) => {
                let any = self.services.values().any(|s| {
                    s.endpoints.iter().any(|(_, ip)| in_net(*ip, *net, *len))
                        || s.cluster.as_ref().is_some_and(|(ips, _)| ips.iter().any(|ip| in_net(*ip, *net, *len)))
                });
                if any { Outcome::nodata(NEGATIVE_TTL) } else { nx() }
            }
            Question::PodNamespace => Outcome::nodata(NEGATIVE_TTL),
            Question::PodRecord(ns, ip) => {
                if !self.pod_ips.contains(&(ns.to_string(), *ip)) {
                    return nx();
                }
                Outcome::records(address_strings(&[*ip].into(), qtype, None), BTreeSet::new())
            }
        }
    }
}

/// An SRV RRset on `targets`: weight max(1, 100/N), the targets' addresses as glue;
/// no target: NODATA.
fn srv_outcome(ns: &str, svc: &str, s: &Served, targets: &BTreeSet<(String, u16)>) -> Outcome {
    let weight = (100 / targets.len().max(1)).max(1);
    let mut answers = BTreeSet::new();
    let mut additionals = BTreeSet::new();
    for (label, number) in targets {
        let target = endpoint_name(ns, svc, label);
        answers.insert(format!("SRV 0 {weight} {number} {target}"));
        additionals.extend(address_strings(&s.addresses(Some(label)), RecordType::ANY, Some(&target)));
    }
    Outcome::records(answers, additionals)
}

/// The crate's answer, reduced the same way; checks owners and the negative SOA's owner.
fn observe(zone: &Zone, probe: &Probe) -> Outcome {
    let answer = zone.lookup(&probe.name, probe.qtype, DNSClass::IN);
    let render = |r: &hickory_proto::rr::Record, with_owner: bool| -> String {
        let data = match &r.data {
            RData::A(a) => format!("A {}", a.0),
            RData::AAAA(a) => format!("AAAA {}", a.0),
            RData::SRV(s) => {
                format!("SRV {} {} {} {}", s.priority, s.weight, s.port, s.target.to_lowercase().to_ascii())
            }
            RData::PTR(p) => format!("PTR {}", p.0.to_lowercase().to_ascii()),
            other => format!("{:?} {other}", other.record_type()),
        };
        if with_owner { format!("{} {data}", r.name.to_lowercase().to_ascii()) } else { data }
    };
    // The first owner is the question as asked; after a CNAME, its target.
    let mut owner = probe.ascii.clone();
    for r in &answer.answers {
        assert_eq!(r.name.to_ascii(), owner, "answer owner keeps the question's name and case, or follows a CNAME");
        assert_eq!(r.dns_class, DNSClass::IN);
        if let RData::CNAME(target) = &r.data {
            owner = target.0.to_ascii();
        }
    }
    let mut negative = None;
    if answer.rcode != ResponseCode::ServFail {
        assert!(answer.authoritative, "AA on in-zone answers: {} {}", probe.name, probe.qtype);
    }
    // A CNAME chain ending in a negative answer carries that answer's SOA.
    let only_cnames = answer.answers.iter().all(|r| r.record_type() == RecordType::CNAME);
    let negative_end = answer.answers.is_empty() || (only_cnames && !answer.authorities.is_empty());
    if negative_end && answer.rcode != ResponseCode::ServFail {
        assert_eq!(answer.authorities.len(), 1, "one SOA on a negative answer: {answer:?}");
        let soa = &answer.authorities[0];
        let RData::SOA(data) = &soa.data else { panic!("authority is not an SOA: {soa:?}") };
        assert_eq!(soa.name.to_ascii(), probe.apex, "negative SOA owner");
        assert_eq!(data.serial, zone.serial());
        assert_eq!(soa.ttl, data.minimum.min(zone.settings().ttl), "negative SOA TTL (RFC 2308)");
        negative = Some(data.minimum);
    } else {
        assert!(answer.authorities.is_empty(), "authority on a positive answer: {answer:?}");
    }
    Outcome {
        rcode: answer.rcode,
        answers: answer.answers.iter().map(|r| render(r, false)).collect(),
        additionals: answer.additionals.iter().map(|r| render(r, true)).collect(),
        negative,
    }
}

struct Checker {
    last: Option<(u32, Vec<(usize, Outcome)>)>,
}

impl Checker {
    fn check(&mut self, model: &Model, index: &Index, ops: &[Op]) {
        let zone = index.zones().cluster();
        assert_eq!(zone.is_synced(), model.synced, "synced flag");
        let view = model.view();
        if *STATS {
            let s = &view.services;
            eprintln!(
                "STATS served={} endpoints={} pending={} srv_targets={} bare_srv={} synced={}",
                s.len(),
                s.values().map(|v| v.endpoints.len()).sum::<usize>(),
                s.values().map(|v| v.pending.len()).sum::<usize>(),
                s.values().flat_map(|v| v.srv.values()).map(BTreeSet::len).sum::<usize>(),
                s.values().map(|v| v.bare.len()).sum::<usize>(),
                view.synced,
            );
        }
        let mut outcomes = Vec::with_capacity(PROBES.len());
        for (i, probe) in PROBES.iter().enumerate() {
            if !probe.core
                && probe.question.service().is_some_and(|(ns, svc)| {
                    !view.services.contains_key(&(ns.to_owned(), svc.to_owned()))
                })
            {
                continue;
            }
            let expected = view.expect(&probe.question, probe.qtype);
            let actual = observe(zone, probe);
            if expected != actual {
                panic!(
                    "{} {}: expected {expected:#?}\nbut the zone answers {actual:#?}\nmodel objects: {:#?}\nview: {:#?}\nops: {ops:#?}",
                    probe.name,
                    probe.qtype,
                    model.objects.values().collect::<Vec<_>>(),
                    view.services,
                );
            }
            outcomes.push((i, actual));
        }
        let serial = zone.serial();
        if let Some((last_serial, last)) = &self.last {
            assert!(serial >= *last_serial, "serial went back: {last_serial} -> {serial}");
            if view.synced && last.first().is_some_and(|(_, o)| o.rcode != ResponseCode::ServFail) && *last != outcomes {
                // The serial is in every negative SOA; compare without it (it is not in Outcome).
                assert_ne!(serial, *last_serial, "records changed but the SOA serial did not");
            }
        }
        self.last = Some((serial, outcomes));
    }
}

// ---------------------------------------------------------------- the target

#[derive(Debug)]
struct Input {
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < 48 {
            ops.push(u.arbitrary()?);
        }
        Ok(Input { ops })
    }
}

fuzz_target!(|input: Input| {
    let ops = &input.ops[..input.ops.len().min(48)];
    let settings = ZoneSettings::new("cluster.local").expect("origin");
    assert_eq!((settings.negative_ttl, settings.pending_ttl), (NEGATIVE_TTL, PENDING_TTL));
    let mut index = Index::new(settings);
    let mut model = Model { synced: true, ..Model::default() };
    index.apply(Update::Synced(true));
    let mut checker = Checker { last: None };
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Apply(spec) => {
                let object = spec.build();
                model.apply(object.clone());
                index.apply(Update::Apply(object));
            }
            Op::Delete(k) => {
                let (kind, key) = k.build();
                model.objects.remove(&(kind, key.clone()));
                index.apply(Update::Delete(kind, key));
            }
            Op::Keep(k) => {
                let (kind, key) = k.build();
                model.keep(kind, key.clone());
                index.apply(Update::Keep(kind, key));
            }
            Op::BeginResync(k) => {
                model.resync.insert(kind(*k), BTreeSet::new());
                index.apply(Update::BeginResync(kind(*k)));
            }
            Op::FinishResync(k) => {
                model.finish(kind(*k));
                index.apply(Update::FinishResync(kind(*k)));
            }
            Op::ReplaceAll(specs) => {
                let objects: Vec<Object> = specs.iter().map(ObjectSpec::build).collect();
                model.replace_all(objects.clone());
                index.apply(Update::ReplaceAll(objects));
            }
            Op::Synced(synced) => {
                model.synced = *synced;
                index.apply(Update::Synced(*synced));
            }
            Op::Commit => {
                index.commit();
                checker.check(&model, &index, &ops[..=i]);
            }
        }
    }
    index.commit();
    checker.check(&model, &index, ops);
    // The state the index holds is the model's.
    let mut held: Vec<Object> = index.state().objects().collect();
    held.sort_by(|a, b| (a.kind(), a.key()).cmp(&(b.kind(), b.key())));
    let expected: Vec<&Object> = model.objects.values().collect();
    assert_eq!(held.iter().collect::<Vec<_>>(), expected, "index state vs model objects");
});
