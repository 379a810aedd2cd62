//! The external zones' part of a commit: the Services a change touched rebuilt in each
//! external zone (after the cluster zone, whose records they share), the zone's serial
//! moved when its records did, and the IXFR differences of the names that changed.

use hickory_proto::rr::Name;

use crate::cluster::{ClusterState, ObjectKey};
use crate::zone::Zones;
use crate::zone::external::{ExternalZone, build};
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
    // A claimed name's records are decided with the names above it (a pod name that is
    // another Service's name): its parent's and grandparent's too.
    let mut affected: Vec<Name> = Vec::new();
    for name in names {
        let mut n = name.clone();
        for _ in 0..3 {
            if !new.apex().zone_of(&n) || n == *new.apex() {
                break;
            }
            affected.push(n.clone());
            n = n.base_name();
        }
    }
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
