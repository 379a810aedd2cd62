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

/// `check-config` with `args` after it, as a user types them.
fn check_config(args: &[&str]) -> Result<super::ServeArgs, String> {
    let argv = ["headless-dns", "check-config"].iter().chain(args).map(OsString::from).collect();
    match parse_from(argv).map_err(|e| e.to_string())?.command {
        Command::CheckConfig(args) => Ok(*args),
        other => Err(format!("parsed as {other:?}")),
    }
}

const SECRET: &str = "c3VwZXJzZWNyZXRrZXl2YWx1ZQ==";

#[test]
fn a_tsig_key_s_errors_name_the_key_never_its_secret() {
    let error = check_config(&["--tsig-key", &format!("transfer:hmac-md5:{SECRET}")]).unwrap_err();
    assert!(!error.contains(SECRET), "{error}");
    assert!(error.contains("'transfer:hmac-md5:<secret>'"), "{error}");
    assert!(error.contains("TSIG key transfer.: algorithm \"hmac-md5\" is not one of"), "{error}");
    // Two parts: the second may be the secret.
    let error = check_config(&["--tsig-key", &format!("transfer:{SECRET}")]).unwrap_err();
    assert!(!error.contains(SECRET) && error.contains("'transfer:<secret>'"), "{error}");
    // The file: its key and line, the secret shown as <secret>.
    for text in [
        format!("tsig_key = [\"transfer:hmac-md5:{SECRET}\"]\n"),
        format!("tsig_key = \"transfer:hmac-md5:{SECRET}\"\n"),
        format!("ttl = 5\ntsig_key = [\n  \"transfer:hmac-sha256:{SECRET}\",\n"),
        format!("tsig_key = [\"transfer:hmac-sha256:{SECRET}]\n"),
    ] {
        let error = check_config_with_file(&text).unwrap_err();
        assert!(!error.contains(SECRET), "{error}");
        assert!(error.contains("one.toml"), "{error}");
    }
    let error =
        check_config_with_file(&format!("tsig_key = [\"transfer:hmac-md5:{SECRET}\"]\n")).unwrap_err();
    assert!(
        error.contains("line 1: `tsig_key = \"transfer:hmac-md5:<secret>\"`: TSIG key transfer.: algorithm"),
        "{error}"
    );
}

#[test]
fn one_tsig_key_name_with_two_secrets_is_an_error() {
    let error =
        check_config(&["--tsig-key", "a:hmac-sha256:YWFh", "--tsig-key", "a:hmac-sha256:YmJi"]).unwrap_err();
    assert!(error.contains("TSIG key a. is given twice with different secrets"), "{error}");
    assert!(!error.contains("YWFh") && !error.contains("YmJi"), "{error}");
    // The same key twice is harmless.
    check_config(&["--tsig-key", "a:hmac-sha256:YWFh", "--tsig-key", "a:hmac-sha256:YWFh"]).unwrap();
    // The file's keys against the flags', when the keys are loaded (serve, check-config).
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "a:hmac-sha256:YmJi\n").unwrap();
    let args = check_config(&["--tsig-key", "a:hmac-sha256:YWFh", "--tsig-key-file", keys.to_str().unwrap()])
        .unwrap();
    let error = args.tsig_keys().unwrap_err().to_string();
    assert!(error.contains("TSIG key a. is given twice") && error.contains("keys line 1"), "{error}");
    std::fs::write(&keys, "a:hmac-sha256:YWFh\nb:hmac-sha512:YmJi\n").unwrap();
    let args = check_config(&["--tsig-key-file", keys.to_str().unwrap()]).unwrap();
    assert_eq!(args.tsig_keys().unwrap().len(), 2);
    // check-config names the file's keys, by name only.
    let text = args.to_toml();
    assert!(text.contains("# keys in tsig_key_file: a., b. (secrets are never printed)"), "{text}");
    assert!(text.contains("# tsig_key: unset (the keys are tsig_key_file's)"), "{text}");
    assert!(!text.contains("YWFh") && !text.contains("YmJi"), "{text}");
}

#[test]
fn a_file_value_that_is_not_a_whole_number_names_its_key() {
    for (line, says) in [
        ("ttl = -1", "line 1: `ttl = -1`: expected a whole number of seconds, 0 or more"),
        ("lameduck = -5", "`lameduck = -5`: expected a whole number of seconds, 0 or more"),
        ("ttl = 5.5", "`ttl = 5.5`: expected a whole number of seconds"),
        ("ttl = \"five\"", "`ttl = \"five\"`: expected a whole number of seconds"),
        ("api_timeout = 0", "`api_timeout = 0`: expected a whole number of seconds from 1 to 3600"),
    ] {
        let error = check_config_with_file(&format!("{line}\n")).unwrap_err();
        assert!(error.contains("one.toml") && error.contains(says), "{line}: {error}");
    }
    // And as a flag: a negative number is the option's value, not another flag.
    let error = check_config(&["--ttl", "-1"]).unwrap_err();
    assert!(error.contains("invalid value '-1' for '--ttl <SECONDS>': expected a whole number"), "{error}");
    assert_eq!(check_config_with_file("ttl = 30\n").unwrap().ttl, 30);
}

#[test]
fn a_file_value_not_among_an_option_s_choices_lists_them() {
    for (line, says) in [
        ("pods = \"verify\"", "expected one of disabled, insecure, verified (did you mean \"verified\"?)"),
        ("endpoint_names = \"ip\"", "expected one of hostname, pod-name"),
        ("streaming_list = \"sometimes\"", "expected one of auto, always, never"),
        ("log_format = \"xml\"", "expected one of text, json"),
    ] {
        let error = check_config_with_file(&format!("{line}\n")).unwrap_err();
        assert!(error.contains(&format!("`{line}`: {says}")), "{line}: {error}");
    }
}

#[test]
fn a_combination_the_file_set_names_the_file_s_keys() {
    let error = check_config_with_file("ttl = 5\nfallthrough = true\n").unwrap_err();
    assert!(error.starts_with("--fallthrough needs --forward (an upstream to ask)"), "{error}");
    assert!(error.contains("set in config file") && error.contains("line 2: fallthrough = true"), "{error}");
    assert!(error.contains("`fallthrough`, `forward`"), "{error}");
    // From a flag: the flag alone.
    let error = check_config(&["--autopath"]).unwrap_err();
    assert_eq!(error, "--autopath needs --forward (an upstream to ask)");
}

#[test]
fn a_boolean_flag_turns_off_what_the_file_turned_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "query_log = true\nexternal_zone = [\"example.com\"]\nexternal_publish_internal = true\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    assert!(check_config(&["--config", file]).unwrap().query_log);
    let args =
        check_config(&["--config", file, "--query-log=false", "--external-publish-internal=false"]).unwrap();
    assert!(!args.query_log && !args.external_publish_internal);
    assert!(check_config(&["--query-log=true"]).unwrap().query_log);
    assert!(check_config(&["--query-log"]).unwrap().query_log);
    let error = check_config_with_file("query_log = \"yes\"\n").unwrap_err();
    assert!(error.contains("`query_log = \"yes\"`: expected true or false"), "{error}");
    // Every boolean option takes the value.
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("serve");
    for arg in serve.get_arguments().filter(|a| super::switch::is_switch(a)) {
        let flag = format!("--{}=false", arg.get_long().unwrap());
        assert!(check_config(&[&flag]).is_ok(), "{flag}");
    }
}

#[test]
fn a_pod_ip_that_is_not_an_address_is_an_error() {
    let args = check_config(&[]).unwrap();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(args.ns_addresses(Some("10.1.2.3".into())).unwrap(), vec![ip("10.1.2.3")]);
    assert_eq!(args.ns_addresses(Some(String::new())).unwrap(), vec![ip("127.0.0.1")]);
    assert_eq!(args.ns_addresses(None).unwrap(), vec![ip("127.0.0.1")]);
    let error = args.ns_addresses(Some("bogus".into())).unwrap_err().to_string();
    assert!(error.starts_with("POD_IP \"bogus\" is not an IP address"), "{error}");
    // --ns-address wins, and then POD_IP is not read.
    let given = check_config(&["--ns-address", "10.0.0.53"]).unwrap();
    assert_eq!(given.ns_addresses(Some("bogus".into())).unwrap(), vec![ip("10.0.0.53")]);
}

#[test]
fn namespaces_and_label_selectors_are_checked_when_read() {
    let error = check_config_with_file("namespace = [\"Default_NS\"]\n").unwrap_err();
    assert!(error.contains("\"Default_NS\" is not a Kubernetes namespace"), "{error}");
    let error = check_config(&["--namespace", "data,Default_NS"]).unwrap_err();
    assert!(error.contains("not a Kubernetes namespace"), "{error}");
    let error = check_config_with_file("label_selector = \"a in (b\"\n").unwrap_err();
    assert!(error.contains("`label_selector = \"a in (b\"`: unbalanced parentheses"), "{error}");
    let args = check_config_with_file("label_selector = \"dns!=off, tier in (db,cache)\"\n").unwrap();
    assert_eq!(args.label_selector.as_deref(), Some("dns!=off, tier in (db,cache)"));
}

#[test]
fn rate_limit_zero_is_no_limit() {
    assert_eq!(check_config(&["--rate-limit", "0"]).unwrap().rate_limit_qps(), None);
    assert_eq!(check_config(&[]).unwrap().rate_limit_qps(), None);
    assert_eq!(check_config(&["--rate-limit", "100"]).unwrap().rate_limit_qps(), Some(100));
}

#[test]
fn offline_options_with_server_are_refused_the_external_zone_too() {
    let argv = |args: &[&str]| -> Vec<OsString> { args.iter().map(OsString::from).collect() };
    let error = parse_from(argv(&[
        "headless-dns",
        "records",
        "--server",
        "http://127.0.0.1:8080",
        "--external-zone",
        "example.com",
    ]))
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("--external-zone only applies offline (with --manifests)"), "{error}");
    parse_from(argv(&[
        "headless-dns",
        "records",
        "--manifests",
        "config/demo",
        "--external-zone",
        "example.com",
    ]))
    .unwrap();
}

#[test]
fn check_config_says_what_a_zero_means_where_it_is_not_a_count() {
    let args = check_config(&["--rate-limit", "0", "--ixfr-journal", "0"]).unwrap();
    let text = args.to_toml();
    assert!(text.contains("rate_limit = 0\n# rate_limit = 0: no rate limit\n"), "{text}");
    assert!(text.contains("# ixfr_journal = 0: no IXFR journal"), "{text}");
    let args = check_config(&["--rate-limit", "10"]).unwrap();
    assert!(!args.to_toml().contains("# rate_limit = "), "only for 0");
}
