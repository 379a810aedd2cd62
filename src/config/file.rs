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
    let (matches, mut cli, file) = match &cli.command {
        Command::Serve(args) | Command::CheckConfig(args) if args.config.is_some() => {
            let path = args.config.clone().expect("checked");
            let (_, sub) = matches.subcommand().expect("a subcommand was parsed");
            let mut argv = argv;
            let file = file_arguments(&path, sub)?;
            // After the flags: a file's value is applied only to options no flag or
            // variable set, so none is given twice.
            argv.extend(file.arguments.iter().cloned());
            let matches = Cli::command().try_get_matches_from(&argv)?;
            let cli = Cli::from_arg_matches(&matches)?;
            (matches, cli, Some(file))
        }
        _ => (matches, cli, None),
    };
    let (_, sub) = matches.subcommand().expect("a subcommand was parsed");
    match &mut cli.command {
        Command::Serve(args) | Command::CheckConfig(args) => {
            args.admin_given = sub.value_source("admin") != Some(ValueSource::DefaultValue);
            args.validate().map_err(|e| match &file {
                Some(file) => file.name_keys(e),
                None => e,
            })?;
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

/// What the file set: its values as arguments, and which option each came from, so an
/// error about a combination of options names the file's keys as the file wrote them.
struct FileSettings {
    /// The file.
    path: PathBuf,
    /// `--option=value` for each value, for the options no flag or variable set.
    arguments: Vec<OsString>,
    /// For each option the file set: its long name, and `line N: key = value` as shown in
    /// errors (TSIG secrets as `<secret>`).
    set: Vec<(String, String)>,
}

impl FileSettings {
    /// `error` (an [`ConfigError::Invalid`] naming options as flags) with, when the file set
    /// some of the options it names, where and how: `--fallthrough needs --forward` alone
    /// sends the reader looking for a flag nobody typed.
    fn name_keys(&self, error: ConfigError) -> ConfigError {
        let ConfigError::Invalid { message } = error else { return error };
        let named = flags_named(&message);
        let set: Vec<&str> = self
            .set
            .iter()
            .filter(|(long, _)| named.contains(long))
            .map(|(_, shown)| shown.as_str())
            .collect();
        if set.is_empty() {
            return ConfigError::Invalid { message };
        }
        let keys: Vec<String> = named.iter().map(|long| format!("`{}`", long.replace('-', "_"))).collect();
        ConfigError::Invalid {
            message: format!(
                "{message}\n  set in config file {}: {} (in the file, {} {})",
                self.path.display(),
                set.join(", "),
                if named.len() == 1 { "the option is" } else { "the options are" },
                keys.join(", ")
            ),
        }
    }
}

/// The long options a message names (`--forward` in "needs --forward (an upstream...)").
fn flags_named(message: &str) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    for (i, _) in message.match_indices("--") {
        let long: String =
            message[i + 2..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        if !long.is_empty() && !named.contains(&long) {
            named.push(long);
        }
    }
    named
}

/// How the file's `key = value` is shown in an error: as TOML, TSIG secrets as `<secret>`.
fn shown(key: &str, value: &toml::Value) -> String {
    let redact = |v: &toml::Value| match v {
        toml::Value::String(spec) => toml::Value::String(crate::xfer::tsig::TsigKey::redact(spec)),
        other => other.clone(),
    };
    let value = match (key, value) {
        ("tsig_key", toml::Value::Array(items)) => toml::Value::Array(items.iter().map(redact).collect()),
        ("tsig_key", one) => redact(one),
        (_, other) => other.clone(),
    };
    format!("{key} = {value}")
}

/// The file's settings as extra arguments, for the options not set by a flag or the environment.
fn file_arguments(path: &Path, matches: &ArgMatches) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::Syntax { path: path.to_owned(), message: syntax_error(&text, &e) })?;
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("serve exists");
    let valid: Vec<String> = serve.get_arguments().filter_map(file_key).collect();
    let mut settings = FileSettings { path: path.to_owned(), arguments: Vec::new(), set: Vec::new() };
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
        let long = arg.get_long().expect("long option");
        let line = line_of(&text, &key).map_or_else(String::new, |n| format!("line {n}: "));
        let invalid = |written: &toml::Value, error: clap::Error| ConfigError::Value {
            path: path.to_owned(),
            message: format!("{line}`{}`: {}", shown(&key, written), reason(&error)),
        };
        // `--option=value`, one argument: a value that starts with `-` (`ttl = -1`) is
        // then the option's value, not read as another flag.
        let argument = |value: &str| OsString::from(format!("--{long}={value}"));
        // Each value checked alone, by the option's own parser, before it joins the rest.
        let check = |given: &str, written: &toml::Value| -> Result<OsString, ConfigError> {
            let alone = clap::Command::new("file").no_binary_name(true).arg(arg.clone().env(None::<&str>));
            let argument = argument(given);
            alone.try_get_matches_from([&argument]).map_err(|e| invalid(written, e))?;
            Ok(argument)
        };
        let scalar = |v: &toml::Value| -> Result<String, ConfigError> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => Err(ConfigError::Value {
                    path: path.to_owned(),
                    message: format!("{line}`{key}` cannot be {}", other.type_str()),
                }),
            }
        };
        match (&value, super::switch::is_switch(arg)) {
            (toml::Value::Boolean(b), true) => settings.arguments.push(argument(&b.to_string())),
            (_, true) => {
                return Err(ConfigError::Value {
                    path: path.to_owned(),
                    message: format!("{line}`{}`: expected true or false", shown(&key, &value)),
                });
            }
            (toml::Value::Array(items), false) => {
                for written in items {
                    let item = scalar(written)?;
                    settings.arguments.push(check(&item, written)?);
                }
            }
            (written, false) => {
                let v = scalar(written)?;
                settings.arguments.push(check(&v, written)?);
            }
        }
        settings.set.push((long.to_owned(), format!("{line}{}", shown(&key, &value))));
    }
    Ok(settings)
}

/// Why clap refused a value of the file, without the option's flag (the file's key and
/// line say where the value is): the parser's reason, or for a value not among an option's
/// choices, the choices.
fn reason(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue)
    {
        let suggested = match error.get(ContextKind::SuggestedValue) {
            Some(ContextValue::String(s)) => format!(" (did you mean {s:?}?)"),
            _ => String::new(),
        };
        return format!("expected one of {}{suggested}", valid.join(", "));
    }
    // clap's first line is "error: invalid value 'V' for '--option <V>': REASON".
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first
        .split_once("' for '--")
        .and_then(|(_, option)| option.split_once("': "))
        .map_or_else(|| first.trim_start_matches("error: ").to_owned(), |(_, r)| r.to_owned())
}

/// The TOML parser's message for `text`: with the lines around the mistake, as the parser
/// shows them, unless the file has TSIG keys, whose secrets those lines could show (a
/// missing quote or bracket is often on, or just after, a key's line): then the line and
/// column only.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    if !text.contains("tsig_key") {
        return error.to_string();
    }
    let at = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}: ")
    });
    format!(
        "{}{} (the file's lines are not shown: it holds TSIG keys)",
        at.unwrap_or_default(),
        error.message().trim_end()
    )
}

/// The 1-based line of `text` (a TOML file) that sets `key`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}
