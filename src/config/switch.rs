//! Boolean options (`--query-log`, `--fallthrough`, ...): `--flag` alone means true, and
//! `--flag=true` / `--flag=false` say which, so a flag can turn off what the config file or
//! the environment turned on (a flag overrides the file's key, for booleans too).
//!
//! The options are declared as plain `bool` fields; [`with_value`], applied to every
//! argument of a command (`#[command(mut_args = switch::with_value)]`), turns each clap flag
//! into an option with an optional `=VALUE`, so no boolean can be declared without it.

use clap::{Arg, ArgAction};

/// `arg` unchanged, unless it is a flag (`--flag`, true when given): then `--flag[=true|false]`.
pub fn with_value(arg: Arg) -> Arg {
    if !matches!(arg.get_action(), ArgAction::SetTrue) {
        return arg;
    }
    let id = arg.get_id().clone();
    arg.action(ArgAction::Set)
        // Given twice, the last wins (a flag alone could be repeated before).
        .overrides_with(id)
        .value_parser(clap::value_parser!(bool))
        .num_args(0..=1)
        // `=` only: `--flag false` would read the next word, such as `explain`'s name.
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_name("true|false")
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// Whether `arg` is a boolean option (after [`with_value`]).
pub fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
        || arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>()
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    #[command(mut_args = super::with_value)]
    struct Options {
        /// A boolean.
        #[arg(long)]
        verbose: bool,
        /// A name after it.
        name: Option<String>,
    }

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn a_boolean_flag_takes_an_optional_true_or_false() {
        assert!(!parse(&[]).unwrap().verbose);
        assert!(parse(&["--verbose"]).unwrap().verbose);
        assert!(parse(&["--verbose=true"]).unwrap().verbose);
        assert!(!parse(&["--verbose=false"]).unwrap().verbose);
        // The last one wins.
        assert!(!parse(&["--verbose", "--verbose=false"]).unwrap().verbose);
        // A word after the flag is not its value.
        let options = parse(&["--verbose", "false"]).unwrap();
        assert!(options.verbose && options.name.as_deref() == Some("false"));
        let error = parse(&["--verbose=maybe"]).unwrap_err();
        assert!(error.contains("invalid value 'maybe' for '--verbose[=<true|false>]'"), "{error}");
        assert!(super::is_switch(
            Options::command().get_arguments().find(|a| a.get_id() == "verbose").unwrap()
        ));
    }
}
