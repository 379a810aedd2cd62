//! The records of a headless service without a selector, from the EndpointSlices its
//! operator manages (or that the mirroring controller copies from an Endpoints object).
//!
//! The rules are the ones CoreDNS applies to slices: an endpoint is published when its
//! `conditions.ready` is true or absent; it answers under its `hostname` when that is a
//! DNS label, else under its dashed address; a not-ready endpoint with a hostname is a
//! pending identity (NODATA with the short TTL), as a not-ready StatefulSet pod is. A
//! slice's ports apply to its own endpoints; only named ports get `_<port>._<proto>` SRV
//! names, and every port is in the bare SRV RRset of the service name.
//! `publishNotReadyAddresses` does not apply: the slice's manager decides readiness.

use std::collections::BTreeMap;

use super::records::{Endpoint, ServiceRecords, SrvPort, dashed_ip, identities, is_dns_label, lowercase};
use crate::cluster::SharedStr;
use crate::cluster::{EndpointSlice, Namespace, ObjectKey, Protocol, Service};

/// An SRV target: endpoint label and port.
type Target = (SharedStr, u16);

/// SRV targets gathered per `(port name, protocol)` while slices are read.
pub(crate) type PortTargets = BTreeMap<(Option<Box<str>>, Protocol), Vec<Target>>;

/// The records of selectorless headless service `service` (key `key`) from the slices
/// of namespace `ns` that name it.
pub(crate) fn records_from_slices(ns: &Namespace, service: &Service, key: &ObjectKey) -> ServiceRecords {
    let mut records = ServiceRecords::default();
    let mut ports = PortTargets::new();
    for slice in ns.slices_of(&service.key.name) {
        add_slice(&mut records, &mut ports, slice, None);
    }
    finish(&mut records, ports);
    records.identities = identities(ns, key);
    records
}

/// Adds one slice's endpoints to `records` and its ports' targets to `ports`. With
/// `cluster` (an MCS slice in the multicluster zone), every label is `<label>.<cluster>`.
pub(crate) fn add_slice(
    records: &mut ServiceRecords,
    ports: &mut PortTargets,
    slice: &EndpointSlice,
    cluster: Option<&str>,
) {
    let qualified = |label: SharedStr| match cluster {
        None => label,
        Some(cluster) => format!("{label}.{cluster}").into(),
    };
    for endpoint in &slice.endpoints {
        let hostname = endpoint.hostname.as_ref().filter(|h| is_dns_label(&h.to_ascii_lowercase()));
        if !endpoint.ready {
            if let Some(h) = hostname {
                records.pending_pods.insert(qualified(lowercase(h)));
            }
            continue;
        }
        for ip in endpoint.addresses.iter() {
            let label = qualified(hostname.map_or_else(|| dashed_ip(*ip).into(), lowercase));
            records.endpoints.push(Endpoint::new(label.clone(), *ip));
            for port in &slice.ports {
                let name = port
                    .name
                    .as_ref()
                    .filter(|n| !n.is_empty())
                    .map(|n| n.as_str().to_ascii_lowercase().into());
                ports.entry((name, port.protocol)).or_default().push((label.clone(), port.port));
            }
        }
    }
}

/// Sorts the endpoints gathered by [`add_slice`], drops the pending labels that are ready
/// somewhere, and turns `ports` into the SRV ports.
pub(crate) fn finish(records: &mut ServiceRecords, ports: PortTargets) {
    records.endpoints.sort();
    records.endpoints.dedup();
    for e in &records.endpoints {
        records.pending_pods.remove(&e.label);
    }
    for ((name, protocol), targets) in ports {
        let port = SrvPort::new(name.as_deref(), protocol, targets, records);
        records.srv.push(port);
    }
    records.endpoints.shrink_to_fit();
}
