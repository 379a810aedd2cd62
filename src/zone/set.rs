//! The zones served, published together as one snapshot: the cluster domain (with the
//! reverse zones of its addresses) and, with `--multicluster-zone`, the multicluster zone.
//!
//! Each zone is a plain value with its apex, kind, serial and IXFR journal; the index
//! builds the next set and publishes it with one pointer swap ([`SharedZones`]), and the
//! readers (queries, transfers, NOTIFY, explain) only read it. A question goes to the zone
//! that holds its name; a listener answers only the kinds of zone its [`Scope`] names.

use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::external::ExternalZone;
use super::invalidation::{ChangeLog, Invalidation};
use super::journal::Journal;
use super::zonefile::{ZoneFile, ZonePart};
use super::{Answer, Zone, ZoneSettings};
use crate::cluster::{ClusterState, ObjectKey, Touched};

/// The published zone set, shared by every reader: load it once per question.
pub type SharedZones = Arc<ArcSwap<Zones>>;

/// What a zone is, as a listener's scope and the metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// The cluster domain (`cluster.local.`).
    Cluster,
    /// `in-addr.arpa.` and `ip6.arpa.`: the PTR records of the cluster zone's addresses.
    Reverse,
    /// The Multi-Cluster Services zone (`clusterset.local.`).
    Multicluster,
    /// An external zone (`--external-zone example.com`).
    External,
}

impl ZoneKind {
    /// Every kind.
    pub const ALL: [ZoneKind; 4] =
        [ZoneKind::Cluster, ZoneKind::Reverse, ZoneKind::Multicluster, ZoneKind::External];

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Which kinds of zone a listener answers; questions for the others are REFUSED there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope(u8);

impl Scope {
    /// Every zone served (the main listener).
    pub const ALL: Scope = Scope(0b1111);

    /// Only the zones of these kinds.
    pub fn only(kinds: &[ZoneKind]) -> Self {
        Scope(kinds.iter().fold(0, |bits, k| bits | k.bit()))
    }

    /// Its bits (one per kind), as a cache key part.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether questions for zones of `kind` are answered.
    pub fn answers(self, kind: ZoneKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::ALL
    }
}

/// One zone served, as plain values: its apex, kind and serial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The zone file (and transfer) it is.
    pub file: ZoneFile,
    /// The apex, lower-cased and fully qualified.
    pub apex: Name,
    /// What it is.
    pub kind: ZoneKind,
    /// Its SOA serial.
    pub serial: u32,
}

/// Every zone served, as one immutable snapshot. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Zones {
    cluster: Zone,
    multicluster: Option<Zone>,
    /// The external zones, in `--external-zone` order.
    external: Vec<ExternalZone>,
    /// What the recent publications changed, for response caches.
    changes: ChangeLog,
}

impl Zones {
    /// The empty, unsynced zones `settings` describe (the multicluster zone when
    /// `settings.multicluster` is set).
    pub fn new(settings: ZoneSettings) -> Self {
        let multicluster = settings.multicluster_settings().map(|s| Zone::of_kind(s, ZoneKind::Multicluster));
        let external = settings.external.iter().cloned().map(ExternalZone::new).collect();
        Self { cluster: Zone::new(settings), multicluster, external, changes: ChangeLog::default() }
    }

    /// The external zones, in `--external-zone` order.
    pub fn external(&self) -> &[ExternalZone] {
        &self.external
    }

    /// The external zones, to change (the index).
    pub fn external_mut(&mut self) -> &mut [ExternalZone] {
        &mut self.external
    }

    /// The external zone whose apex is `apex` (any case), with its place.
    pub fn external_named(&self, apex: &Name) -> Option<(u8, &ExternalZone)> {
        let lower = apex.to_lowercase();
        let (i, zone) = self.external.iter().enumerate().find(|(_, z)| *z.apex() == lower)?;
        Some((u8::try_from(i).ok()?, zone))
    }

    /// One served zone, whatever its kind: what transfers and NOTIFY read.
    pub fn served_zone(&self, file: ZoneFile) -> Option<ZoneRef<'_>> {
        match file {
            ZoneFile::External(i) => self.external.get(usize::from(i)).map(ZoneRef::External),
            _ => self.zone(file).map(|zone| ZoneRef::Cluster(zone, file)),
        }
    }

    /// Every zone's SOA serial, in the order responses caches index them: the cluster
    /// zone's (its reverse zones' too), the multicluster zone's (else the cluster's), then
    /// each external zone's.
    pub fn serials(&self) -> Vec<u32> {
        let mut serials = vec![self.cluster.serial(), self.serial_of(ZoneKind::Multicluster)];
        serials.extend(self.external.iter().map(ExternalZone::serial));
        serials
    }

    /// What the recent publications changed (the index records it).
    pub fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    /// Records what this publication changed (the index).
    pub fn record_changes(&mut self, invalidation: Invalidation) {
        self.changes.push(invalidation);
    }

    /// The SOA serial of the zone of `kind` (the reverse zones': the cluster zone's).
    pub fn serial_of(&self, kind: ZoneKind) -> u32 {
        match (kind, &self.multicluster) {
            (ZoneKind::Multicluster, Some(multicluster)) => multicluster.serial(),
            _ => self.cluster.serial(),
        }
    }

    /// The cluster zone (with its reverse zones).
    pub fn cluster(&self) -> &Zone {
        &self.cluster
    }

    /// The cluster zone, to change (the index).
    pub fn cluster_mut(&mut self) -> &mut Zone {
        &mut self.cluster
    }

    /// The multicluster zone, when `--multicluster-zone` is set.
    pub fn multicluster(&self) -> Option<&Zone> {
        self.multicluster.as_ref()
    }

    /// The multicluster zone, to change (the index).
    pub fn multicluster_mut(&mut self) -> Option<&mut Zone> {
        self.multicluster.as_mut()
    }

    /// Whether the cluster zone reflects a complete view of the cluster (readiness).
    pub fn is_synced(&self) -> bool {
        self.cluster.is_synced()
    }

    /// The cluster zone's SOA serial.
    pub fn serial(&self) -> u32 {
        self.cluster.serial()
    }

    /// The cluster or multicluster zone a zone file is read from (`None` for an external
    /// zone's: see [`served_zone`](Self::served_zone)).
    pub fn zone(&self, file: ZoneFile) -> Option<&Zone> {
        match file {
            ZoneFile::Multicluster => self.multicluster.as_ref(),
            ZoneFile::External(_) => None,
            _ => Some(&self.cluster),
        }
    }

    /// Every zone served, with its apex, kind and serial, in a fixed order.
    pub fn served(&self) -> Vec<Served> {
        let mut files = vec![ZoneFile::Forward, ZoneFile::InAddrArpa, ZoneFile::Ip6Arpa];
        files.extend(self.multicluster.is_some().then_some(ZoneFile::Multicluster));
        files
            .extend((0..self.external.len()).filter_map(|i| Some(ZoneFile::External(u8::try_from(i).ok()?))));
        files
            .into_iter()
            .filter_map(|file| {
                let zone = self.served_zone(file)?;
                Some(Served { file, apex: zone.apex().clone(), kind: file.kind(), serial: zone.serial() })
            })
            .collect()
    }

    /// The zone whose apex `name` is, if any.
    pub fn served_at(&self, name: &Name) -> Option<Served> {
        let lower = name.to_lowercase();
        self.served().into_iter().find(|s| s.apex == lower)
    }

    /// The kind of zone that holds `name`, if we serve it.
    pub fn kind_of(&self, name: &Name) -> Option<ZoneKind> {
        let lower = name.to_lowercase();
        self.served().into_iter().find(|s| s.apex.zone_of(&lower)).map(|s| s.kind)
    }

    /// Whether `name` is in a zone we are authoritative for; everything else is REFUSED,
    /// or forwarded in resolver mode.
    pub fn serves(&self, name: &Name) -> bool {
        self.kind_of(name).is_some()
    }

    /// Answers one question from the zone that holds its name. `qname` may be in any case;
    /// answer owners keep its case.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        self.lookup_in(Scope::ALL, qname, qtype, qclass)
    }

    /// [`lookup`](Self::lookup) on a listener that answers only `scope`: a name in
    /// another zone is REFUSED, as a name in no zone of ours is.
    pub fn lookup_in(&self, scope: Scope, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let kind = self.kind_of(qname);
        if !kind.is_some_and(|kind| scope.answers(kind)) {
            return Answer::code(ResponseCode::Refused, false);
        }
        match (kind, &self.multicluster) {
            (Some(ZoneKind::External), _) => {
                let lower = qname.to_lowercase();
                match self.external.iter().find(|z| z.apex().zone_of(&lower)) {
                    Some(zone) => zone.lookup(qname, qtype, qclass),
                    None => Answer::code(ResponseCode::Refused, false),
                }
            }
            (Some(ZoneKind::Multicluster), Some(multicluster)) => multicluster.lookup(qname, qtype, qclass),
            (Some(ZoneKind::Reverse), Some(multicluster))
                if matches!(qtype, RecordType::PTR | RecordType::ANY) =>
            {
                // A multicluster PTR only where no cluster-local one exists (spec §2.4.3).
                let local = self.cluster.lookup(qname, qtype, qclass);
                if local.answers.is_empty() && local.rcode != ResponseCode::Refused {
                    let remote = multicluster.lookup(qname, qtype, qclass);
                    if !remote.answers.is_empty() {
                        return remote;
                    }
                }
                local
            }
            _ => self.cluster.lookup(qname, qtype, qclass),
        }
    }

    /// Rebuilds the multicluster records of the touched keys from `state` and from the
    /// (already rebuilt) cluster zone: an exported service's local endpoints come from it.
    /// Returns the keys whose multicluster records changed.
    pub fn rebuild_multicluster(&mut self, state: &ClusterState, touched: &Touched) -> Vec<ObjectKey> {
        match &mut self.multicluster {
            Some(multicluster) => super::multicluster::rebuild(multicluster, &self.cluster, state, touched),
            None => Vec::new(),
        }
    }

    /// Rebuilds every zone from `state` (a whole load, outside the index: benchmarks and
    /// tests). Returns the cluster services that changed.
    pub fn rebuild_all(&mut self, state: &ClusterState) -> Vec<ObjectKey> {
        let changed = self.cluster.rebuild_all(state);
        if let Some(multicluster) = &self.multicluster {
            let mut keys = state.multicluster_keys();
            keys.extend(multicluster.services().map(|(k, _)| k));
            self.rebuild_multicluster(state, &keys);
        }
        changed
    }

    /// Marks every zone as reflecting (or not) a complete view of the cluster: the
    /// multicluster zone only when `multicluster` (its kinds listed) holds too.
    pub fn set_synced(&mut self, synced: bool, multicluster: bool) {
        self.cluster.set_synced(synced);
        if let Some(zone) = &mut self.multicluster {
            zone.set_synced(synced && multicluster);
        }
        for zone in &mut self.external {
            zone.set_synced(synced);
        }
    }

    /// Rebuilds the maps with full nodes, once the first complete zones are built.
    pub fn repack(&mut self) {
        self.cluster.repack();
        if let Some(multicluster) = &mut self.multicluster {
            multicluster.repack();
        }
        for external in &mut self.external {
            external.repack();
        }
    }

    /// The records of one zone file, apex first, in the order they are printed (none for
    /// the multicluster zone when it is not served).
    pub fn zone_records(&self, file: ZoneFile) -> Vec<hickory_proto::rr::Record> {
        if let ZoneFile::External(i) = file {
            return self.external.get(usize::from(i)).map_or_else(Vec::new, ExternalZone::zone_records);
        }
        self.zone(file).map_or_else(Vec::new, |zone| zone.zone_records(file))
    }

    /// One zone file as text, loadable by other DNS servers.
    pub fn zone_file(&self, file: ZoneFile) -> String {
        if file == ZoneFile::EXTERNAL {
            if self.external.is_empty() {
                return "; no external zone is served (start with --external-zone example.com)\n".into();
            }
            return self.external.iter().map(ExternalZone::zone_file).collect::<Vec<_>>().join("\n");
        }
        if let ZoneFile::External(i) = file {
            return self.external.get(usize::from(i)).map_or_else(
                || "; no such external zone is served (--external-zone)\n".to_owned(),
                ExternalZone::zone_file,
            );
        }
        match self.zone(file) {
            Some(zone) => zone.zone_file(file),
            None => {
                "; no multicluster zone is served (start with --multicluster-zone clusterset.local)\n".into()
            }
        }
    }
}

/// One served zone, whatever its kind, as transfers and NOTIFY read it.
#[derive(Clone, Copy, Debug)]
pub enum ZoneRef<'a> {
    /// The cluster or multicluster zone, and which of its files.
    Cluster(&'a Zone, ZoneFile),
    /// An external zone.
    External(&'a ExternalZone),
}

impl ZoneRef<'_> {
    /// The apex.
    pub fn apex(&self) -> &Name {
        match self {
            ZoneRef::Cluster(zone, file) => zone.zone_apex(*file),
            ZoneRef::External(zone) => zone.apex(),
        }
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match self {
            ZoneRef::Cluster(zone, _) => zone.serial(),
            ZoneRef::External(zone) => zone.serial(),
        }
    }

    /// Whether it reflects a complete view of the cluster.
    pub fn is_synced(&self) -> bool {
        match self {
            ZoneRef::Cluster(zone, _) => zone.is_synced(),
            ZoneRef::External(zone) => zone.is_synced(),
        }
    }

    /// Its IXFR journal.
    pub fn journal(&self) -> &Journal {
        match self {
            ZoneRef::Cluster(zone, _) => zone.journal(),
            ZoneRef::External(zone) => zone.journal(),
        }
    }

    /// The questions of its head (SOA first).
    pub fn zone_head_queries(&self) -> Vec<(Name, RecordType)> {
        match self {
            ZoneRef::Cluster(zone, file) => zone.zone_head_queries(*file),
            ZoneRef::External(zone) => zone.zone_head_queries(),
        }
    }

    /// What follows the head, in order.
    pub fn zone_parts(&self) -> Vec<ZonePart> {
        match self {
            ZoneRef::Cluster(zone, file) => zone.zone_parts(*file),
            ZoneRef::External(zone) => zone.zone_parts().into_iter().map(ZonePart::Name).collect(),
        }
    }

    /// Appends the questions of one part.
    pub fn part_queries(&self, part: &ZonePart, queries: &mut Vec<(Name, RecordType)>) {
        match (self, part) {
            (ZoneRef::External(zone), ZonePart::Name(h)) => zone.part_queries(h, queries),
            (ZoneRef::Cluster(zone, _), part) => zone.part_queries(part, queries),
            _ => {}
        }
    }
}
