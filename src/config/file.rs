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
    let (Command::Serve(args) | Command::CheckConfig(args)) = &cli.command else { return Ok(cli) };
    let Some(path) = args.config.clone() else { return Ok(cli) };
    let (_, sub) = matches.subcommand().expect("a subcommand was parsed");
    let extra = file_arguments(&path, sub)?;
    if extra.is_empty() {
        return Ok(cli);
    }
    let mut argv = argv;
    argv.extend(extra);
    let matches = Cli::command().try_get_matches_from(&argv).map_err(|e| ConfigError::Value {
        path: path.clone(),
        message: e.kind().to_string() + ": " + e.to_string().lines().next().unwrap_or_default(),
    })?;
    Ok(Cli::from_arg_matches(&matches)?)
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
                for item in items {
                    extra.push(flag.clone().into());
                    extra.push(scalar(item)?.into());
                }
            }
            (v, false) => {
                extra.push(flag.into());
                extra.push(scalar(v)?.into());
            }
        }
    }
    Ok(extra)
}
