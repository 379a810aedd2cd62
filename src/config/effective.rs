//! What `check-config` prints: every option of `serve` under its file key, with the value
//! that will really be used — defaults that depend on the environment resolved (the
//! `--allow-from` ranges, the NS address, the UDP worker count, resolved `--listen`
//! names) and unset options named in a comment saying what their absence means.

use clap::CommandFactory;

use super::file::file_key;
use super::{Cli, ServeArgs};

/// What an option left unset means, for the comment `check-config` prints.
fn unset_meaning(key: &str) -> &'static str {
    match key {
        "manifests" => "serving from the Kubernetes API, not from files",
        "kubeconfig" => "the in-cluster service account, else KUBECONFIG or ~/.kube/config",
        "context" => "the kubeconfig's current context",
        "namespace" => "every namespace",
        "label_selector" => "every pod",
        "state_file" => "no saved state: SERVFAIL until the API has been listed",
        "forward" => "nothing is forwarded",
        "rate_limit" => "no rate limit",
        "tsig_key" => "transfers are not signed",
        "tsig_key_file" => "no key file",
        "notify" => "no NOTIFY is sent: secondaries transfer at their SOA refresh",
        "transfer_allow" => "nobody may transfer the zones: AXFR and IXFR are REFUSED",
        "autopath_namespace" => "$POD_NAMESPACE, needed only with autopath",
        "cluster_id" => {
            "the id.k8s.io ClusterProperty names this cluster; with neither, its exported \
             StatefulSets get no <sts>-<i>.<cluster-id> names"
        }
        "multicluster_zone" => "clusterset.local is not served",
        "external_zone" => "no external zones",
        "external_nameserver" => "ns.<zone> at the ns_address addresses",
        "external_listen" => "the external zones are answered on the listen addresses only",
        _ => "not set",
    }
}

/// What 0 means for an option where it does not read as a number of something.
fn zero_meaning(key: &str) -> Option<&'static str> {
    match key {
        "rate_limit" => Some("no rate limit"),
        "ixfr_journal" => Some("no IXFR journal: every IXFR gets the whole zone"),
        "forward_cache" => Some("forwarded answers are not cached"),
        "lameduck" => Some("no lameduck period: DNS stops at once on SIGTERM"),
        _ => None,
    }
}

impl ServeArgs {
    /// The effective configuration as TOML: every option, in `--help` order, with the value
    /// in use. Valid as a config file (unset options are comments).
    pub fn to_toml(&self) -> String {
        let mut values = match toml::Table::try_from(self) {
            Ok(table) => table,
            Err(e) => return format!("# cannot render: {e}\n"),
        };
        let strings =
            |items: Vec<String>| toml::Value::Array(items.into_iter().map(toml::Value::String).collect());
        let listen = self.listen_addrs().iter().map(ToString::to_string).collect();
        values.insert("listen".into(), strings(listen));
        let allow_from = match self.allow_from.is_empty() {
            true => &crate::forward::DEFAULT_ALLOW_FROM[..],
            false => &self.allow_from,
        };
        values.insert("allow_from".into(), strings(allow_from.iter().map(ToString::to_string).collect()));
        let admin_allow = crate::admin::access::readers(&self.admin_allow);
        values.insert(
            "admin_allow".into(),
            strings(admin_allow.networks().iter().map(ToString::to_string).collect()),
        );
        if let Ok(zone) = self.zone_settings() {
            let ns = zone.ns_addresses.iter().map(ToString::to_string).collect();
            values.insert("ns_address".into(), strings(ns));
        }
        let workers = self.udp_worker_count();
        values.insert("udp_workers".into(), toml::Value::Integer(workers as i64));

        let mut out = String::new();
        let command = Cli::command();
        let serve = command.find_subcommand("serve").expect("serve exists");
        for key in serve.get_arguments().filter_map(file_key) {
            let value = values.get(&key).filter(|v| !matches!(v, toml::Value::Array(a) if a.is_empty()));
            match value {
                None if key == "tsig_key" && !self.tsig_key.is_empty() => {
                    let names: Vec<String> = self.tsig_key.iter().map(|k| k.name.to_string()).collect();
                    out.push_str(&format!("# tsig_key: {} (secrets are never printed)\n", names.join(", ")));
                }
                None if key == "tsig_key" && self.tsig_key_file.is_some() => {
                    out.push_str("# tsig_key: unset (the keys are tsig_key_file's)\n");
                }
                Some(value) => {
                    let mut one = toml::Table::new();
                    one.insert(key.clone(), value.clone());
                    out.push_str(&toml::to_string(&one).unwrap_or_default());
                    if let (toml::Value::Integer(0), Some(meaning)) = (value, zero_meaning(&key)) {
                        out.push_str(&format!("# {key} = 0: {meaning}\n"));
                    }
                }
                None => out.push_str(&format!("# {key}: unset ({})\n", unset_meaning(&key))),
            }
            if key == "tsig_key_file"
                && let Some(path) = &self.tsig_key_file
            {
                out.push_str(&key_file_comment(path));
            }
        }
        out
    }
}

/// The comment under `tsig_key_file`: the names of the keys the file holds (never their
/// secrets), or why it cannot be used.
fn key_file_comment(path: &std::path::Path) -> String {
    match crate::xfer::tsig::TsigKey::from_file(path) {
        Ok(keys) if keys.is_empty() => {
            "# keys in tsig_key_file: none (transfers are not signed)\n".to_owned()
        }
        Ok(keys) => {
            let names: Vec<String> = keys.iter().map(|(k, _)| k.name.to_string()).collect();
            format!("# keys in tsig_key_file: {} (secrets are never printed)\n", names.join(", "))
        }
        Err(e) => format!("# tsig_key_file: {e}\n"),
    }
}
