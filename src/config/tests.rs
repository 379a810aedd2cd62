//! The options, the example file and the configuration reference against each other: every `serve` option
//! has a key in `config/headless-dns.toml` named after its long option, in a form the
//! loader accepts, a row in docs/configuration.md's option table, and a line in `check-config`.

use std::ffi::OsString;

use clap::CommandFactory;

use super::file::file_key;
use super::{Cli, Command, parse_from};

const EXAMPLE: &str = include_str!("../../config/headless-dns.toml");
const REFERENCE: &str = include_str!("../../docs/configuration.md");

fn serve_keys() -> Vec<(String, String)> {
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("serve").clone();
    serve.get_arguments().filter_map(|a| Some((file_key(a)?, a.get_long()?.to_owned()))).collect()
}

/// The example file's line setting `key`, commented out or not, without the `# `.
fn example_line(key: &str) -> Option<&'static str> {
    EXAMPLE
        .lines()
        .map(|l| l.trim_start_matches('#').trim_start())
        .find(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
}

fn check_config_with_file(text: &str) -> Result<super::ServeArgs, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.toml");
    std::fs::write(&path, text).unwrap();
    let argv: Vec<OsString> =
        vec!["headless-dns".into(), "check-config".into(), "--config".into(), path.into()];
    match parse_from(argv).map_err(|e| e.to_string())?.command {
        Command::CheckConfig(args) => Ok(*args),
        other => Err(format!("parsed as {other:?}")),
    }
}

#[test]
fn every_option_is_in_the_example_file_and_its_example_loads() {
    let keys = serve_keys();
    assert!(keys.len() > 30, "found only {} options", keys.len());
    for (key, long) in &keys {
        assert_eq!(key, &long.replace('-', "_"));
        let line = example_line(key)
            .unwrap_or_else(|| panic!("config/headless-dns.toml has no `{key} = ...` line for --{long}"));
        // Options only valid with another: their example loads with it.
        let with = match key.as_str() {
            "cluster_id" => "multicluster_zone = \"clusterset.local\"\n",
            "external_nameserver" | "external_listen" | "external_publish_internal" => {
                "external_zone = [\"example.com\"]\n"
            }
            "fallthrough" | "autopath" | "autopath_namespace" => "forward = [\"10.96.0.10\"]\n",
            _ => "",
        };
        if let Err(e) = check_config_with_file(&format!("{with}{line}\n")) {
            panic!("the example line `{line}` for --{long} does not load: {e}");
        }
    }
    // And the other way round: nothing in the file that is not an option.
    for line in EXAMPLE.lines().map(|l| l.trim_start_matches('#').trim_start()) {
        if let Some((key, _)) = line.split_once(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            assert!(keys.iter().any(|(k, _)| k == key), "config/headless-dns.toml sets unknown `{key}`");
        }
    }
}

#[test]
fn every_option_reads_headless_dns_option_from_the_environment() {
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("serve").clone();
    for arg in serve.get_arguments() {
        let (Some(key), Some(env)) = (file_key(arg), arg.get_env()) else { continue };
        // The downward API's variable: a sidecar gets it without any configuration.
        let expected = if key == "autopath_namespace" {
            "POD_NAMESPACE".to_owned()
        } else {
            format!("HEADLESS_DNS_{}", key.to_uppercase())
        };
        assert_eq!(env.to_str(), Some(expected.as_str()), "--{}", arg.get_long().unwrap_or_default());
    }
    assert!(serve.get_arguments().filter(|a| file_key(a).is_some()).all(|a| a.get_env().is_some()));
}

#[test]
fn every_option_is_in_the_readme_table() {
    let table: Vec<&str> = REFERENCE.lines().filter(|l| l.starts_with("| `--")).collect();
    for (_, long) in serve_keys() {
        let flag = format!("`--{long}");
        assert!(
            table.iter().any(|row| row.contains(&flag)),
            "docs/configuration.md's option table lacks --{long}"
        );
    }
}

#[test]
fn check_config_prints_every_option_with_the_value_in_use() {
    let args = check_config_with_file("listen = [\"127.0.0.1:5353\"]\n").unwrap();
    let text = args.to_toml();
    for (key, _) in serve_keys() {
        let present = text
            .lines()
            .any(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key}: unset")));
        assert!(present, "check-config does not show {key}:\n{text}");
    }
    // Defaults resolved, not the empty lists the flags default to.
    assert!(text.contains("allow_from = [\"127.0.0.0/8\", \"::1/128\", \"10.0.0.0/8\""), "{text}");
    assert!(text.contains("admin_allow = [\"127.0.0.0/8\", \"::1/128\"]"), "{text}");
    assert!(text.contains("ns_address = [\"127.0.0.1\"]") || std::env::var("POD_IP").is_ok(), "{text}");
    assert!(text.lines().any(|l| l.starts_with("udp_workers = ")), "{text}");
    // What it prints is itself a valid config file that gives the same settings.
    let again = check_config_with_file(&text).unwrap();
    assert_eq!(again.to_toml(), text);
}

#[test]
fn file_keys_are_the_long_option_names() {
    let args = check_config_with_file("ns_address = [\"10.0.0.53\"]\nnamespace = [\"data\"]\n").unwrap();
    assert_eq!(args.ns_addresses, vec!["10.0.0.53".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(args.namespaces, vec!["data".to_owned()]);
    let error = check_config_with_file("ns_addresses = [\"10.0.0.53\"]\n").unwrap_err();
    assert!(error.contains("unknown key `ns_addresses`") && error.contains("ns_address"), "{error}");
}

#[test]
fn listen_accepts_host_names() {
    let args = check_config_with_file("listen = [\"localhost:5357\"]\n").unwrap();
    let addrs = args.listen_addrs();
    assert!(addrs.contains(&"127.0.0.1:5357".parse().unwrap()), "{addrs:?}");
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 5357), "{addrs:?}");
    let literal = check_config_with_file("listen = [\"127.0.0.1:5353\", \"[::1]:53\"]\n").unwrap();
    assert_eq!(literal.listen_addrs(), vec!["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    let error = check_config_with_file("listen = [\"no-such-host.invalid:53\"]\n").unwrap_err();
    assert!(error.contains("no-such-host.invalid"), "{error}");
    let error = check_config_with_file("listen = [\"localhost\"]\n").unwrap_err();
    assert!(error.contains("ADDR:PORT"), "{error}");
}
