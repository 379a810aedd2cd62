//! Random cluster changes from a seed: the same seed, the same changes. Few names and
//! few addresses, so that changes collide (shared PTR names, pods moving between
//! services), for the properties checked over many of them (IXFR, the response cache).

use serde_json::json;

use headless_dns::cluster::{Kind as ObjectKind, Object, ObjectKey};
use headless_dns::index::Update;

/// A small deterministic generator (xorshift64*): the same seed, the same changes.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

pub fn random_update(rng: &mut Rng) -> Update {
    let ns = "ns";
    match rng.below(14) {
        0 => Update::Delete(
            ObjectKind::Pod,
            ObjectKey { namespace: ns.into(), name: format!("p{}", rng.below(12)).into() },
        ),
        1 => Update::Delete(
            ObjectKind::Service,
            ObjectKey { namespace: ns.into(), name: format!("s{}", rng.below(5)).into() },
        ),
        // A StatefulSet's identities: pending TXT records until pods `st-<i>` are ready.
        10 => Update::Apply(
            Object::from_json(
                ObjectKind::StatefulSet,
                json!({
                "metadata": {"name": "st", "namespace": ns},
                "spec": {"serviceName": format!("s{}", rng.below(3)), "replicas": rng.below(4)}}),
            )
            .unwrap(),
        ),
        11 => Update::Delete(ObjectKind::StatefulSet, ObjectKey { namespace: ns.into(), name: "st".into() }),
        // A ClusterIP service, whose address has a PTR record too.
        12 => Update::Apply(
            Object::from_json(
                ObjectKind::Service,
                json!({
                "metadata": {"name": "s3", "namespace": ns},
                "spec": {"clusterIP": format!("10.0.0.{}", 1 + rng.below(8)),
                         "ports": [{"name": "web", "port": 80}]}}),
            )
            .unwrap(),
        ),
        // An ExternalName service, pointing into the zone (followed) or out of it.
        13 => {
            let target = match rng.below(3) {
                0 => "db.example.com".to_owned(),
                n => format!("s{}.ns.svc.cluster.local", n - 1),
            };
            Update::Apply(
                Object::from_json(
                    ObjectKind::Service,
                    json!({
                    "metadata": {"name": "s4", "namespace": ns},
                    "spec": {"type": "ExternalName", "externalName": target}}),
                )
                .unwrap(),
            )
        }
        2 => {
            let ports = match rng.below(3) {
                0 => json!([]),
                1 => json!([{"name": "web", "port": 80}]),
                _ => {
                    json!([{"name": "web", "port": 80, "targetPort": "http"}, {"name": "dns", "port": 53, "protocol": "UDP"}])
                }
            };
            let n = rng.below(3);
            Update::Apply(
                Object::from_json(ObjectKind::Service, json!({
                    "metadata": {"name": format!("s{n}"), "namespace": ns},
                    "spec": {"clusterIP": "None", "selector": {"app": format!("a{}", rng.below(3))}, "ports": ports,
                             "publishNotReadyAddresses": rng.below(4) == 0}}))
                .unwrap(),
            )
        }
        _ => {
            let name = format!("p{}", rng.below(12));
            let v4 = format!("10.0.0.{}", 1 + rng.below(8)); // few addresses: shared PTR names
            let ips = if rng.below(4) == 0 {
                json!([{"ip": v4}, {"ip": format!("fd00::{}", 1 + rng.below(4))}])
            } else {
                json!([{"ip": v4}])
            };
            let spec = match rng.below(3) {
                0 => json!({}),
                1 => json!({"hostname": name, "subdomain": format!("s{}", rng.below(3))}),
                _ => {
                    json!({"hostname": format!("h{}", rng.below(3)), "subdomain": format!("s{}", rng.below(3)),
                            "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]})
                }
            };
            let ready = if rng.below(5) == 0 { "False" } else { "True" };
            Update::Apply(
                Object::from_json(ObjectKind::Pod, json!({
                    "metadata": {"name": name, "namespace": ns, "labels": {"app": format!("a{}", rng.below(3))}},
                    "spec": spec,
                    "status": {"podIP": v4, "podIPs": ips, "conditions": [{"type": "Ready", "status": ready}]}}))
                .unwrap(),
            )
        }
    }
}
