//! The TOML configuration file: its keys are the long option names with `_` for `-`, and
//! its values are applied by re-parsing them as the options they name, so they are
//! validated exactly like flags.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::{Cli, Command};

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line (or a value from the environment) is invalid; clap's message.
    #[error("{0}")]
    Cli(#[from] clap::Error),
    /// An option's value, or a combination of options, is invalid: what is wrong and how
    /// to fix it.
    #[error("{message}")]
    Invalid {
        /// The sentence.
        message: String,
    },
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file has a key that is not an option.
    #[error("config file {path}: unknown key `{key}`; valid keys are: {valid}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Every valid key.
        valid: String,
    },
    /// A value in the file is invalid.
    #[error("config file {path}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// Prints the error and exits like clap does (help and version are not errors).
    pub fn exit(self) -> ! {
        match self {
            ConfigError::Cli(e) => e.exit(),
            other => {
                eprintln!("error: {other}");
                std::process::exit(2)
            }
        }
    }
}

/// Parses the process's command line, applying the config file.
pub fn parse() -> Result<Cli, ConfigError> {
    parse_from(std::env::args_os().collect())
}

/// Parses `argv` (program name first), applying the config file named by `--config` or
/// `HEADLESS_DNS_CONFIG` to the options neither a flag nor the environment set.
pub fn parse_from(argv: Vec<OsString>) -> Result<Cli, ConfigError> {
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let (matches, mut cli) = match &cli.command {
        Command::Serve(args) | Command::CheckConfig(args) if args.config.is_some() => {
            let path = args.config.clone().expect("checked");
            let (_, sub) = matches.subcommand().expect("a subcommand was parsed");
            let mut argv = argv;
            argv.extend(file_arguments(&path, sub)?);
            let matches = Cli::command().try_get_matches_from(&argv)?;
            let cli = Cli::from_arg_matches(&matches)?;
            (matches, cli)
        }
        _ => (matches, cli),
    };
    let (_, sub) = matches.subcommand().expect("a subcommand was parsed");
    match &mut cli.command {
        Command::Serve(args) | Command::CheckConfig(args) => {
            args.admin_given = sub.value_source("admin") != Some(ValueSource::DefaultValue);
            args.validate()?;
        }
        Command::Explain(args) => {
            if args.name.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    message:
                        "explain needs a name: a DNS name, an address, or a short name as a pod writes it \
                              (e.g. web-0.nginx)"
                            .into(),
                });
            }
            args.target.check()?;
        }
        Command::Records(args) => args.target.check()?,
    }
    Ok(cli)
}

/// The file's key for a `serve` option: its long name with `_` for `-` (`--ns-address` is
/// `ns_address`). `None` for `--config` itself, which cannot be set from the file.
pub fn file_key(arg: &clap::Arg) -> Option<String> {
    arg.get_long().filter(|l| !matches!(*l, "config" | "help" | "version")).map(|l| l.replace('-', "_"))
}

/// The file's settings as extra arguments, for the options not set by a flag or the environment.
fn file_arguments(path: &Path, matches: &ArgMatches) -> Result<Vec<OsString>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::Syntax { path: path.to_owned(), message: e.to_string() })?;
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("serve exists");
    let valid: Vec<String> = serve.get_arguments().filter_map(file_key).collect();
    let mut extra = Vec::new();
    for (key, value) in table {
        let Some(arg) = serve.get_arguments().find(|a| file_key(a).as_deref() == Some(key.as_str())) else {
            return Err(ConfigError::UnknownKey { path: path.to_owned(), key, valid: valid.join(", ") });
        };
        if matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let flag = format!("--{}", arg.get_long().expect("long option"));
        let invalid = |written: &toml::Value, error: clap::Error| {
            // clap's first line, without its "error: " and the flag it names: the file's
            // key and line say where the value is.
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let reason = first.rsplit_once("': ").map_or(first.trim_start_matches("error: "), |(_, r)| r);
            let line = line_of(&text, &key).map_or_else(String::new, |n| format!("line {n}: "));
            ConfigError::Value {
                path: path.to_owned(),
                message: format!("{line}`{key} = {written}`: {reason}"),
            }
        };
        // Each value checked alone, by the option's own parser, before it joins the rest.
        let check = |given: &str, written: &toml::Value| -> Result<(), ConfigError> {
            let alone = clap::Command::new("file").no_binary_name(true).arg(arg.clone().env(None::<&str>));
            alone.try_get_matches_from([flag.as_str(), given]).map(|_| ()).map_err(|e| invalid(written, e))
        };
        let is_switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let scalar = |v: &toml::Value| -> Result<String, ConfigError> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => Err(ConfigError::Value {
                    path: path.to_owned(),
                    message: format!("`{key}` cannot be {}", other.type_str()),
                }),
            }
        };
        match (&value, is_switch) {
            (toml::Value::Boolean(true), true) => extra.push(flag.into()),
            (toml::Value::Boolean(false), true) => {}
            (_, true) => {
                return Err(ConfigError::Value {
                    path: path.to_owned(),
                    message: format!("`{key}` must be true or false"),
                });
            }
            (toml::Value::Array(items), false) => {
                for written in items {
                    let item = scalar(written)?;
                    check(&item, written)?;
                    extra.push(flag.clone().into());
                    extra.push(item.into());
                }
            }
            (written, false) => {
                let v = scalar(written)?;
                check(&v, written)?;
                extra.push(flag.into());
                extra.push(v.into());
            }
        }
    }
    Ok(extra)
}

/// The 1-based line of `text` (a TOML file) that sets `key`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}
