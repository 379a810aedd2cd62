//! What a zone is configured with: the origin, TTLs, naming and transfer settings.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::{EndpointNames, MulticlusterSettings, PodRecords};

/// What the zone is configured with; fixed for the life of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSettings {
    /// The cluster domain, lower-cased and fully qualified (`cluster.local.`).
    pub origin: Name,
    /// TTL of positive answers.
    pub ttl: u32,
    /// SOA minimum: how long resolvers may cache NXDOMAIN and NODATA.
    pub negative_ttl: u32,
    /// SOA minimum on a pending identity's NODATA: kept short so no cache holds it.
    pub pending_ttl: u32,
    /// How endpoints without a matching hostname are named.
    pub endpoint_names: EndpointNames,
    /// Addresses of `ns.dns.<zone>`, the name server named by the NS and SOA records.
    pub ns_addresses: Vec<IpAddr>,
    /// Which pod records (`a-b-c-d.<ns>.pod.<zone>`) are answered.
    pub pods: PodRecords,
    /// Bytes of differences the IXFR journal keeps (`--ixfr-journal`).
    pub ixfr_journal: usize,
    /// SOA refresh, retry and expire, in seconds: what secondaries do between NOTIFYs.
    pub soa_timers: [u32; 3],
    /// `--multicluster-zone`: the multicluster zone served besides the cluster zone.
    pub multicluster: Option<MulticlusterSettings>,
    /// `--external-zone`: the external zones served besides, in order.
    pub external: Vec<super::external::ExternalSettings>,
}

impl ZoneSettings {
    /// Settings with the CoreDNS defaults for `origin` (TTL 5 s, negative 5 s, pending 1 s).
    pub fn new(origin: &str) -> Result<Self, hickory_proto::ProtoError> {
        let mut origin = Name::from_ascii(origin)?.to_lowercase();
        origin.set_fqdn(true);
        Ok(Self {
            origin,
            ttl: 5,
            negative_ttl: 5,
            pending_ttl: 1,
            endpoint_names: EndpointNames::Hostname,
            ns_addresses: vec![IpAddr::from([127, 0, 0, 1])],
            pods: PodRecords::Verified,
            ixfr_journal: super::journal::DEFAULT_BYTES,
            soa_timers: [7200, 1800, 86400],
            multicluster: None,
            external: Vec::new(),
        })
    }

    /// The settings of an external zone at `apex` with these settings' TTLs and timers:
    /// name servers `nameservers` (none: `ns.<apex>`, with these settings' name server
    /// addresses as glue).
    pub fn external_zone(
        &self,
        apex: &str,
        nameservers: Vec<(Name, Vec<IpAddr>)>,
        publish_internal: bool,
    ) -> Result<super::external::ExternalSettings, hickory_proto::ProtoError> {
        let mut apex = Name::from_ascii(apex)?.to_lowercase();
        apex.set_fqdn(true);
        let nameservers = if nameservers.is_empty() {
            vec![(Name::from_ascii("ns")?.append_domain(&apex)?, self.ns_addresses.clone())]
        } else {
            nameservers
        };
        Ok(super::external::ExternalSettings {
            apex,
            nameservers,
            ttl: self.ttl,
            negative_ttl: self.negative_ttl,
            pending_ttl: self.pending_ttl,
            soa_timers: self.soa_timers,
            ixfr_journal: self.ixfr_journal,
            publish_internal,
        })
    }
}
