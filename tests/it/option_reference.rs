//! docs/configuration.md's option table against clap: one row per `serve` option, and each
//! row's default column says clap's default value. src/config/tests.rs checks that every
//! option has a row; this checks what the rows say.
//!
//! The default column of an option with a default value in clap is that value in
//! backticks (`` `0.0.0.0:53` ``); of a flag, `off`; of an option without one, `—`, `off`
//! or `none`, unless it is one of the exceptions below: options whose absence means
//! something computed at run time or found elsewhere, which the table says in words.

use clap::{ArgAction, CommandFactory};
use headless_dns::config::Cli;

const REFERENCE: &str = include_str!("../../docs/configuration.md");

/// Options without a default value in clap whose default the table describes in words,
/// with the words it must say. Each is computed where the option is read, not by clap.
const COMPUTED_DEFAULTS: &[(&str, &str, &str)] = &[
    ("udp-workers", "cores", "one UDP worker per core, counted at start"),
    (
        "ns-address",
        "`$POD_IP`, else the `--listen` IP, else 127.0.0.1",
        "the downward API's POD_IP, else the first --listen address",
    ),
    ("admin-allow", "loopback only", "an empty list means loopback"),
    ("allow-from", "loopback + private", "an empty list means loopback and the private ranges"),
    ("cluster-id", "the `id.k8s.io` ClusterProperty", "read from the cluster (KEP-2149)"),
    (
        "kubeconfig",
        "in-cluster service account, then `KUBECONFIG` / `~/.kube/config`",
        "kube's own inference",
    ),
    ("context", "the kubeconfig's current context", "kube's own inference"),
    ("namespace", "all", "no namespace given: every namespace is watched"),
    (
        "autopath-namespace",
        "`$POD_NAMESPACE`",
        "clap reads the variable as the option's env, not as a default",
    ),
];

/// What the column may say of an option that has no default at all.
const UNSET: &[&str] = &["—", "off", "none"];

/// The table's rows as (long option, default column, whole row).
fn rows(reference: &str) -> Vec<(String, String, &str)> {
    reference
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let option = cells[1].trim_start_matches("`--");
            let long = option.split([' ', '`']).next().unwrap().to_owned();
            (long, cells[2].to_owned(), row)
        })
        .collect()
}

fn serve() -> clap::Command {
    Cli::command().find_subcommand("serve").expect("serve").clone()
}

fn serve_options() -> Vec<clap::Arg> {
    serve()
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !matches!(a.get_id().as_str(), "help" | "version"))
        .cloned()
        .collect()
}

/// What is wrong with the defaults of the option table of `reference`.
fn wrong_defaults(reference: &str) -> Vec<String> {
    let rows = rows(reference);
    let mut errors = Vec::new();
    for arg in serve_options() {
        let long = arg.get_long().unwrap();
        let matching: Vec<_> = rows.iter().filter(|(l, _, _)| l == long).collect();
        let [(_, documented, row)] = matching.as_slice() else {
            errors.push(format!("--{long}: {} rows in the option table, not one", matching.len()));
            continue;
        };
        let defaults: Vec<String> =
            arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        // A boolean option: `--flag[=true|false]`, or a plain flag.
        let flag = matches!(arg.get_action(), ArgAction::SetTrue)
            || arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>();
        let exception = COMPUTED_DEFAULTS.iter().find(|(l, _, _)| *l == long);
        let expected: Vec<String> = match (flag, defaults.is_empty(), exception) {
            (true, _, None) if defaults == ["false"] => vec!["off".to_owned()],
            (_, false, Some(_)) => {
                errors.push(format!(
                    "--{long} has the default {defaults:?} in clap: it is no exception (COMPUTED_DEFAULTS)"
                ));
                continue;
            }
            (_, false, None) => {
                vec![defaults.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")]
            }
            (_, true, Some((_, words, _))) => vec![(*words).to_owned()],
            (_, true, None) => UNSET.iter().map(|s| (*s).to_owned()).collect(),
        };
        if !expected.contains(documented) {
            errors.push(format!(
                "docs/configuration.md: --{long}'s default column says {documented}, clap's default is {}: {}\n  {row}",
                if defaults.is_empty() { "none".to_owned() } else { format!("{defaults:?}") },
                match expected.as_slice() {
                    [one] => format!("the column should say {one}"),
                    many => format!("the column should say one of {many:?}"),
                },
            ));
        }
    }
    errors
}

#[test]
fn each_default_in_the_option_table_is_clap_s() {
    let errors = wrong_defaults(REFERENCE);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn each_row_of_the_option_table_is_a_serve_option() {
    let options: Vec<String> = serve_options().iter().map(|a| a.get_long().unwrap().to_owned()).collect();
    assert!(options.len() > 30, "found only {} options", options.len());
    for (long, _, row) in rows(REFERENCE) {
        assert!(
            options.contains(&long),
            "docs/configuration.md has a row for --{long}, which serve does not take:\n  {row}"
        );
    }
    for (long, _, _) in COMPUTED_DEFAULTS {
        assert!(
            options.iter().any(|o| o == long),
            "COMPUTED_DEFAULTS names --{long}, which serve does not take"
        );
    }
}

#[test]
fn a_wrong_default_in_the_table_is_noticed() {
    let changed = |from: &str, to: &str| {
        assert!(REFERENCE.contains(from), "docs/configuration.md has no `{from}`");
        wrong_defaults(&REFERENCE.replace(from, to))
    };
    let errors = changed("| `--ttl` | `5` |", "| `--ttl` | `30` |");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "docs/configuration.md: --ttl's default column says `30`, clap's default is [\"5\"]"
        ),
        "{}",
        errors[0]
    );
    let errors = changed("| `--autopath` | off |", "| `--autopath` | on |");
    assert!(errors.len() == 1 && errors[0].contains("--autopath's default column says on"), "{errors:?}");
    let errors = changed("| `--udp-workers N` | cores |", "| `--udp-workers N` | `1` |");
    assert!(errors.len() == 1 && errors[0].contains("should say cores"), "{errors:?}");
    let errors = changed("| `--manifests PATH` | — |", "| `--manifests PATH` | `config/demo` |");
    assert!(errors.len() == 1 && errors[0].contains("one of [\"—\", \"off\", \"none\"]"), "{errors:?}");
}
