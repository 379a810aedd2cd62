//! Explain for the services whose name stands for the service itself: ClusterIP
//! (its cluster IPs, its ports' SRV records, no names below) and ExternalName (a CNAME).

use std::net::IpAddr;

use hickory_proto::rr::Name;

use crate::cluster::Service;
use crate::zone::Zone;

/// A ClusterIP or ExternalName service's name, or a name below it.
pub(super) fn explain_typed_service(
    zone: &Zone,
    service: &Service,
    rest: &[String],
    reasons: &mut Vec<String>,
) {
    let key = &service.key;
    if let Some(target) = &service.external_name {
        let in_zone =
            Name::from_ascii(format!("{target}.")).is_ok_and(|t| zone.settings().origin.zone_of(&t));
        reasons.push(format!(
            "service {key} is an ExternalName service: its name is a CNAME to {target}. for every type (spec §2.5){}",
            if in_zone {
                ", followed here since the target is in this zone"
            } else {
                "; the target is outside this zone, so the client's resolver follows it"
            }
        ));
        if !rest.is_empty() {
            reasons.push("no name exists below an ExternalName service (NXDOMAIN)".into());
        }
        return;
    }
    if service.cluster_ips.is_empty() {
        reasons.push(format!(
            "service {key} is a ClusterIP service without a cluster IP yet (spec.clusterIP unset): \
             its name does not exist until one is allocated"
        ));
        return;
    }
    let ips: Vec<String> = service.cluster_ips.iter().map(IpAddr::to_string).collect();
    match rest {
        [] => reasons.push(format!(
            "service {key} is a ClusterIP service: its name answers its cluster IPs ({}) whatever its \
             endpoints (spec §2.3); SRV asked of the name lists its ports",
            ips.join(", ")
        )),
        [label] if !label.starts_with('_') => reasons.push(format!(
            "service {key} is a ClusterIP service: it has no per-pod names, so {label} does not exist \
             (only headless services, clusterIP: None, name their pods)"
        )),
        [proto] => {
            reasons.push(format!("{proto} groups the SRV records of the service's {} ports", &proto[1..]))
        }
        [proto, port] => {
            let (proto, port) = (proto.trim_start_matches('_'), port.trim_start_matches('_'));
            match service.ports.iter().find(|p| {
                p.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(port)) && p.protocol.srv_label() == proto
            }) {
                Some(p) => reasons.push(format!(
                    "service {key} is a ClusterIP service: _{port}._{proto} is SRV 0 100 {} {}, the service port on \
                     the service name (not on its pods), with the cluster IPs as glue",
                    p.port,
                    zone.service_name(key)
                )),
                None => reasons.push(format!(
                    "service {key} has no port named {port} with protocol {proto} (only named ports get SRV names)"
                )),
            }
        }
        _ => {}
    }
}
