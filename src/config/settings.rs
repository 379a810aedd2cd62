//! What the `serve` options become: the settings each part of the server is built from
//! (listen addresses, the zone, the Kubernetes source, resolver mode, TSIG keys), with the
//! checks that need more than one option.

use std::net::SocketAddr;

use super::{ConfigError, ServeArgs};
use crate::zone::ZoneSettings;

impl ServeArgs {
    /// Every address `--listen` names, host names resolved, without duplicates.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in self.listen.iter().flat_map(|l| &l.addrs) {
            if !addrs.contains(addr) {
                addrs.push(*addr);
            }
        }
        addrs
    }

    /// Checks what no single option's parser can: combinations, and the settings the
    /// options make (the zone, forwarding), so that each mistake is found when the command
    /// line is read, named, and exits 2 like clap's errors. (Files the options name, such as
    /// the TSIG key file, are read when the server starts.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.pending_ttl > self.negative_ttl {
            return Err(ConfigError::Invalid {
                message: format!(
                    "--pending-ttl {} is longer than --negative-ttl {}: a pending identity's NODATA would be cached \
                     longer than NXDOMAIN, the opposite of what it is for; give a pending TTL of at most {}",
                    self.pending_ttl, self.negative_ttl, self.negative_ttl
                ),
            });
        }
        if self.external_zone.is_empty() {
            let needs = [
                ("--external-listen", !self.external_listen.is_empty()),
                ("--external-publish-internal", self.external_publish_internal),
            ];
            if let Some((flag, _)) = needs.iter().find(|(_, given)| *given) {
                return Err(ConfigError::Invalid {
                    message: format!("{flag} needs --external-zone (the zone to publish, e.g. example.com)"),
                });
            }
        }
        // The flags' keys only: the key file is read when the keys are loaded (tsig_keys).
        let flags = self.tsig_key.iter().map(|k| (k.clone(), "--tsig-key".to_owned()));
        crate::xfer::tsig::TsigKey::unique(flags).map_err(|message| ConfigError::Invalid { message })?;
        self.zone_settings()?;
        self.forward_settings()?;
        Ok(())
    }

    /// The rate limit's answers per second per client prefix, `None` for no limit:
    /// `--rate-limit 0` is no limit, as `--ixfr-journal 0` keeps no journal and
    /// `--forward-cache 0` no cache (and a flag can so lift a limit the file sets).
    pub fn rate_limit_qps(&self) -> Option<u32> {
        self.rate_limit.filter(|qps| *qps > 0)
    }

    /// The UDP worker threads per address: `--udp-workers`, else one per core.
    pub fn udp_worker_count(&self) -> usize {
        self.udp_workers
            .map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from)
    }

    /// The Kubernetes options.
    pub fn kube_options(&self) -> crate::source::kubernetes::KubeOptions {
        crate::source::kubernetes::KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespaces: self.namespaces.clone(),
            label_selector: self.label_selector.clone(),
            streaming_list: self.streaming_list,
            multicluster: self.multicluster_zone.is_some(),
            watch_nodes: !self.external_zone.is_empty(),
            timeout: std::time::Duration::from_secs(self.api_timeout),
        }
    }

    /// The forwarding settings, when `--forward` is given.
    pub fn forward_settings(&self) -> Result<Option<crate::forward::ForwardSettings>, ConfigError> {
        let config = |message: String| ConfigError::Invalid { message };
        if self.forward.is_empty() {
            let given: Vec<&str> = [("--fallthrough", self.fallthrough), ("--autopath", self.autopath)]
                .into_iter()
                .filter_map(|(flag, given)| given.then_some(flag))
                .collect();
            if !given.is_empty() {
                let verb = if given.len() == 1 { "needs" } else { "need" };
                return Err(config(format!("{} {verb} --forward (an upstream to ask)", given.join(" and "))));
            }
            return Ok(None);
        }
        let mut upstreams = Vec::new();
        for value in &self.forward {
            let parsed = crate::forward::parse_forward(value)
                .map_err(|e| config(format!("--forward {value}: {e}")))?;
            upstreams.extend(parsed.into_iter().map(|u| (u, value.clone())));
        }
        let upstreams = crate::forward::selfloop::without_own_addresses(upstreams, &self.listen_addrs())
            .map_err(config)?;
        let autopath_namespace = match (self.autopath, &self.autopath_namespace) {
            (false, _) => None,
            (true, Some(ns)) if !ns.is_empty() => Some(ns.clone()),
            (true, _) => return Err(config("--autopath needs the pod's namespace: set POD_NAMESPACE from the downward API, or --autopath-namespace".into())),
        };
        Ok(Some(crate::forward::ForwardSettings {
            upstreams,
            fallthrough: self.fallthrough,
            allow_from: crate::access::AccessList::new(if self.allow_from.is_empty() {
                &crate::forward::DEFAULT_ALLOW_FROM[..]
            } else {
                &self.allow_from
            }),
            timeout: std::time::Duration::from_millis(self.forward_timeout.max(1)),
            max_inflight: self.forward_max_inflight,
            cache_size: self.forward_cache,
            autopath_namespace,
        }))
    }

    /// The TSIG keys of `--tsig-key` and `--tsig-key-file` (read now), each name once:
    /// `serve` and `check-config` both load them here, so both refuse the same file.
    pub fn tsig_keys(&self) -> Result<Vec<crate::xfer::tsig::TsigKey>, ConfigError> {
        let mut keys: Vec<_> = self.tsig_key.iter().map(|k| (k.clone(), "--tsig-key".to_owned())).collect();
        if let Some(path) = &self.tsig_key_file {
            keys.extend(
                crate::xfer::tsig::TsigKey::from_file(path)
                    .map_err(|message| ConfigError::Invalid { message })?,
            );
        }
        crate::xfer::tsig::TsigKey::unique(keys).map_err(|message| ConfigError::Invalid { message })
    }

    /// The zone settings these options describe.
    pub fn zone_settings(&self) -> Result<ZoneSettings, ConfigError> {
        let mut settings = zone_settings(&ZoneOptions {
            zone: &self.zone,
            endpoint_names: self.endpoint_names,
            pods: self.pods,
            multicluster_zone: self.multicluster_zone.as_deref(),
            cluster_id: self.cluster_id.as_deref(),
        })?;
        settings.ttl = self.ttl;
        settings.negative_ttl = self.negative_ttl;
        settings.pending_ttl = self.pending_ttl;
        // Nobody may transfer the zones without --transfer-allow: no IXFR journal to keep.
        settings.ixfr_journal = if self.transfer_allow.is_empty() { 0 } else { self.ixfr_journal };
        settings.soa_timers = [self.soa_refresh, self.soa_retry, self.soa_expire];
        let nameservers = nameservers(&self.external_nameserver);
        settings.ns_addresses = self.ns_addresses(std::env::var("POD_IP").ok())?;
        settings.external =
            external_settings(&settings, &self.external_zone, nameservers, self.external_publish_internal)?;
        Ok(settings)
    }
}

impl ServeArgs {
    /// The addresses of ns.dns.<zone>: `--ns-address`, else `pod_ip` (the downward API's
    /// `POD_IP`), else the first specific `--listen` address, else 127.0.0.1. A `POD_IP`
    /// that is not an address is an error: falling back would publish the wrong name
    /// server address, and the sidecar manifest that sets it is what is wrong.
    pub(super) fn ns_addresses(&self, pod_ip: Option<String>) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        if !self.ns_addresses.is_empty() {
            return Ok(self.ns_addresses.clone());
        }
        if let Some(pod_ip) = pod_ip.filter(|ip| !ip.trim().is_empty()) {
            let ip = pod_ip.trim().parse().map_err(|_| ConfigError::Invalid {
                message: format!(
                    "POD_IP {pod_ip:?} is not an IP address: it is the default address of ns.dns.<zone>; \
                     set it from the downward API (fieldRef status.podIP), or give --ns-address"
                ),
            })?;
            return Ok(vec![ip]);
        }
        Ok(match self.listen_addrs().into_iter().find(|a| !a.ip().is_unspecified()) {
            Some(addr) => vec![addr.ip()],
            None => vec![std::net::IpAddr::from([127, 0, 0, 1])],
        })
    }
}

impl super::Target {
    /// The zone settings of an offline `explain` or `records` (the defaults but for the
    /// options they take).
    pub fn zone_settings(&self) -> Result<ZoneSettings, ConfigError> {
        zone_settings(&ZoneOptions {
            zone: self.zone.as_deref().unwrap_or("cluster.local"),
            endpoint_names: self.endpoint_names.unwrap_or_default(),
            pods: self.pods.unwrap_or_default(),
            multicluster_zone: self.multicluster_zone.as_deref(),
            cluster_id: self.cluster_id.as_deref(),
        })
        .and_then(|mut settings| {
            settings.external = external_settings(
                &settings,
                &self.external_zone,
                Vec::new(),
                self.external_publish_internal,
            )?;
            Ok(settings)
        })
    }

    /// The offline-only options given with `--server`, which a running server ignores
    /// (it serves with its own): refused, so they are not silently without effect.
    pub fn check(&self) -> Result<(), ConfigError> {
        let offline = [
            ("--zone", self.zone.is_some()),
            ("--endpoint-names", self.endpoint_names.is_some()),
            ("--pods", self.pods.is_some()),
            ("--multicluster-zone", self.multicluster_zone.is_some()),
            ("--cluster-id", self.cluster_id.is_some()),
            ("--external-zone", !self.external_zone.is_empty()),
            ("--external-publish-internal", self.external_publish_internal),
        ];
        let given: Vec<&str> = offline.iter().filter(|(_, given)| *given).map(|(flag, _)| *flag).collect();
        match (&self.server, given.is_empty()) {
            (Some(server), false) => Err(ConfigError::Invalid {
                message: format!(
                    "{} only {} offline (with --manifests): {server} answers with the options it was started with",
                    given.join(", "),
                    if given.len() == 1 { "applies" } else { "apply" }
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// The options `serve`, `explain` and `records` all take that make the zones.
struct ZoneOptions<'a> {
    zone: &'a str,
    endpoint_names: crate::zone::EndpointNames,
    pods: crate::zone::PodRecords,
    multicluster_zone: Option<&'a str>,
    cluster_id: Option<&'a str>,
}

/// The one place options become [`ZoneSettings`]: the cluster domain checked, naming,
/// pod records and the multicluster zone; `serve` adds its TTLs, timers and addresses.
fn zone_settings(options: &ZoneOptions<'_>) -> Result<ZoneSettings, ConfigError> {
    let mut settings = ZoneSettings::new(options.zone).map_err(|e| ConfigError::Invalid {
        message: format!("--zone {:?} is not a domain name: {e}", options.zone),
    })?;
    settings.endpoint_names = options.endpoint_names;
    settings.pods = options.pods;
    settings.multicluster =
        multicluster_settings(options.multicluster_zone, options.cluster_id, &settings.origin)?;
    Ok(settings)
}

/// The multicluster zone of `--multicluster-zone` and `--cluster-id`, checked: a
/// domain name that neither contains nor is inside the cluster domain `origin`, and a
/// cluster id that is a DNS label.
pub fn multicluster_settings(
    multicluster_zone: Option<&str>,
    cluster_id: Option<&str>,
    origin: &hickory_proto::rr::Name,
) -> Result<Option<crate::zone::MulticlusterSettings>, ConfigError> {
    let config = |message: String| ConfigError::Invalid { message };
    let cluster_id = match cluster_id {
        None => None,
        Some(id) => {
            let id = id.to_ascii_lowercase();
            if !crate::zone::records::is_dns_label(&id) {
                return Err(config(format!(
                    "--cluster-id {id:?} is not a DNS label (lower-case letters, digits and '-', \
                     at most 63): it becomes one in <hostname>.<cluster-id>.<svc>.<ns>.svc.<zone>"
                )));
            }
            Some(id.into())
        }
    };
    let Some(zone) = multicluster_zone else {
        if cluster_id.is_some() {
            return Err(config("--cluster-id needs --multicluster-zone (e.g. clusterset.local)".into()));
        }
        return Ok(None);
    };
    let mut name = hickory_proto::rr::Name::from_ascii(zone)
        .map_err(|e| config(format!("--multicluster-zone {zone:?} is not a domain name: {e}")))?
        .to_lowercase();
    name.set_fqdn(true);
    if name.is_root() || name.zone_of(origin) || origin.zone_of(&name) {
        return Err(config(format!(
            "--multicluster-zone {name} overlaps the cluster domain {origin}: use a zone of its own, \
             normally clusterset.local"
        )));
    }
    Ok(Some(crate::zone::MulticlusterSettings { origin: name, cluster_id }))
}

/// `--external-nameserver` values, one entry per name with its addresses, in order.
fn nameservers(given: &[super::Nameserver]) -> Vec<(hickory_proto::rr::Name, Vec<std::net::IpAddr>)> {
    let mut nameservers: Vec<(hickory_proto::rr::Name, Vec<std::net::IpAddr>)> = Vec::new();
    for ns in given {
        match nameservers.iter_mut().find(|(name, _)| *name == ns.name) {
            Some((_, addresses)) => addresses.extend(ns.address),
            None => nameservers.push((ns.name.clone(), ns.address.into_iter().collect())),
        }
    }
    nameservers
}

/// The external zones of `--external-zone`, checked: each a domain of its own, neither
/// containing nor inside the cluster domain, the multicluster zone or another external
/// zone (a name would have two owners); a name server's address only for a name inside
/// the zone (glue; outside it, resolvers find the address themselves).
fn external_settings(
    settings: &ZoneSettings,
    zones: &[String],
    nameservers: Vec<(hickory_proto::rr::Name, Vec<std::net::IpAddr>)>,
    publish_internal: bool,
) -> Result<Vec<crate::zone::external::ExternalSettings>, ConfigError> {
    let config = |message: String| ConfigError::Invalid { message };
    let mut taken: Vec<(hickory_proto::rr::Name, &str)> =
        vec![(settings.origin.clone(), "the cluster domain")];
    if let Some(multicluster) = &settings.multicluster {
        taken.push((multicluster.origin.clone(), "the multicluster zone"));
    }
    let mut external = Vec::new();
    for zone in zones {
        let mut zone_settings = settings
            .external_zone(zone, Vec::new(), publish_internal)
            .map_err(|e| config(format!("--external-zone {zone:?} is not a domain name: {e}")))?;
        let apex = zone_settings.apex.clone();
        if apex.is_root() {
            return Err(config(
                "--external-zone . would be the whole DNS: give a zone such as example.com".into(),
            ));
        }
        if let Some((other, what)) =
            taken.iter().find(|(other, _)| other.zone_of(&apex) || apex.zone_of(other))
        {
            return Err(config(format!(
                "--external-zone {apex} overlaps {what} {other}: each name must have one zone; give zones \
                 that neither contain nor are inside each other"
            )));
        }
        taken.push((apex.clone(), "the external zone"));
        if !nameservers.is_empty() {
            for (ns, addresses) in &nameservers {
                if !addresses.is_empty() && !apex.zone_of(ns) && zones.len() == 1 {
                    return Err(config(format!(
                        "--external-nameserver {ns}={}: an address is glue, for a name server inside {apex}; \
                         give the name alone",
                        addresses[0]
                    )));
                }
            }
            zone_settings.nameservers = nameservers
                .iter()
                .map(|(ns, addresses)| {
                    (ns.clone(), if apex.zone_of(ns) { addresses.clone() } else { Vec::new() })
                })
                .collect();
        }
        external.push(zone_settings);
    }
    if external.is_empty() && !nameservers.is_empty() {
        return Err(config("--external-nameserver needs --external-zone".into()));
    }
    Ok(external)
}
