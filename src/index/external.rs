//! The external zones' part of a commit: the Services a change touched rebuilt in each
//! external zone (after the cluster zone, whose records they share), the zone's serial
//! moved when its records did, and the IXFR differences of the names that changed; and
//! the log lines on what the annotations ask for and cannot have, once each.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::cluster::{ClusterState, ObjectKey, Service};
use crate::zone::Zones;
use crate::zone::external::{Claimants, ExternalZone, build, depth_under};
use crate::zone::journal::Journal;

/// What one external zone's commit changed: its place and the claimed names whose
/// records may differ.
pub struct Changed {
    /// The zone's place among the external zones.
    pub place: u8,
    /// The names (claimed before or after) whose records may differ.
    pub names: Vec<Name>,
}

/// Rebuilds `keys` (every Service, when `all`) in each external zone of `zones` from
/// `state`, sets the serials of the zones that changed (`next_serial` gives one from the
/// zone's current) and records their IXFR differences against `old`. `first`: the first
/// build, which starts the journals.
pub fn commit(
    old: &Zones,
    zones: &mut Zones,
    state: &ClusterState,
    keys: &[ObjectKey],
    all: bool,
    first: bool,
    next_serial: &mut dyn FnMut(u32) -> u32,
) -> Vec<Changed> {
    let mut out = Vec::new();
    if zones.external().is_empty() {
        return out;
    }
    let cluster = zones.cluster().clone();
    let all_keys;
    let keys = if all {
        all_keys = build::publishing(state);
        &all_keys[..]
    } else {
        keys
    };
    for (place, zone) in zones.external_mut().iter_mut().enumerate() {
        let Ok(place) = u8::try_from(place) else { break };
        let names = build::rebuild(zone, state, &cluster, keys);
        if names.is_empty() && !first {
            continue;
        }
        zone.set_serial(next_serial(zone.serial()));
        let before = old.external().get(usize::from(place));
        let journal = record(before, zone, &names, first);
        zone.set_journal(journal);
        out.push(Changed { place, names });
    }
    out
}

/// The journal of `new` after the change from `old` (the zone's previous snapshot) that
/// changed the records at or below `names`.
fn record(old: Option<&ExternalZone>, new: &ExternalZone, names: &[Name], first: bool) -> Journal {
    let mut journal = new.journal().clone();
    let Some(old) = old.filter(|_| !first) else {
        journal.clear();
        return journal;
    };
    if old.serial() == new.serial() || journal.limit() == 0 {
        return journal;
    }
    if !old.is_synced() || !new.is_synced() || journal.newest().is_some_and(|to| to != old.serial()) {
        journal.clear();
    }
    let mut affected: Vec<Name> = names.iter().flat_map(|name| new.affected_by(name)).collect();
    affected.sort();
    affected.dedup();
    let records =
        |zone: &ExternalZone| affected.iter().flat_map(|h| zone.records_under(h)).collect::<Vec<_>>();
    match super::journal::diff(old.serial(), new.serial(), records(old), records(new), journal.limit()) {
        Some(delta) => journal.push(delta),
        None => journal.clear(),
    }
    journal
}

/// What has been logged about the external zones' inputs, so that each problem is logged
/// once, not at every commit that touches its Service: per Service version, the
/// annotation values it ignores and the hostnames outside every external zone; per
/// contested name, its claimants.
#[derive(Debug, Default)]
pub struct Reported {
    services: HashMap<ObjectKey, Arc<Service>>,
    conflicts: HashMap<Name, Claimants>,
}

impl Reported {
    /// Logs what is new among `keys`' Services (every publishing Service when `all`) and
    /// the names `changed` whose claimants are new.
    pub fn report(
        &mut self,
        zones: &Zones,
        state: &ClusterState,
        keys: &[ObjectKey],
        all: bool,
        changed: &[Changed],
    ) {
        if zones.external().is_empty() {
            return;
        }
        let all_keys;
        let keys = if all {
            self.services.clear();
            all_keys = build::publishing(state);
            &all_keys[..]
        } else {
            keys
        };
        for key in keys {
            self.service(zones, state, key);
        }
        for change in changed {
            let Some(zone) = zones.external().get(usize::from(change.place)) else { continue };
            for name in &change.names {
                self.conflict(zone, name);
            }
        }
    }

    fn service(&mut self, zones: &Zones, state: &ClusterState, key: &ObjectKey) {
        let service = state.namespace(&key.namespace).and_then(|ns| ns.services.get(&key.name));
        let Some((service, spec)) = service.and_then(|s| Some((s, s.external.as_deref()?))) else {
            self.services.remove(key);
            return;
        };
        let is_apex = |h: &str| zones.external().iter().any(|z| depth_under(z.apex(), h) == Some(0));
        let inside = |h: &str| zones.external().iter().any(|z| depth_under(z.apex(), h).is_some());
        let apexes: Vec<&str> = spec.hostnames.iter().map(|h| &**h).filter(|h| is_apex(h)).collect();
        let outside: Vec<&str> = spec.hostnames.iter().map(|h| &**h).filter(|h| !inside(h)).collect();
        if spec.problems().is_empty() && outside.is_empty() && apexes.is_empty() {
            self.services.remove(key);
            return;
        }
        if self.services.get(key).is_some_and(|known| Arc::ptr_eq(known, service) || **known == **service) {
            return;
        }
        for problem in spec.problems().iter() {
            tracing::warn!("service {key}: {problem}");
        }
        if !outside.is_empty() {
            let apexes: Vec<String> = zones.external().iter().map(|z| z.apex().to_string()).collect();
            tracing::warn!(
                "service {key}: hostname {} is in no external zone ({}): not published",
                outside.join(", "),
                apexes.join(", ")
            );
        }
        if !apexes.is_empty() {
            tracing::warn!(
                "service {key}: hostname {} is an external zone's apex, whose records are the zone's own \
                 (SOA, NS): not published",
                apexes.join(", ")
            );
        }
        self.services.insert(key.clone(), Arc::clone(service));
    }

    fn conflict(&mut self, zone: &ExternalZone, name: &Name) {
        match zone.claims(name).filter(|c| c.len() > 1) {
            Some(claimants) => {
                if self.conflicts.get(name).is_some_and(|known| known == claimants) {
                    return;
                }
                let losers: Vec<String> = claimants.iter().skip(1).map(|(_, k)| k.to_string()).collect();
                tracing::warn!(
                    "{name} is claimed by {} services: {} is served (the oldest), not {}",
                    claimants.len(),
                    claimants[0].1,
                    losers.join(", ")
                );
                self.conflicts.insert(name.clone(), Arc::clone(claimants));
            }
            None => {
                self.conflicts.remove(name);
            }
        }
    }
}
