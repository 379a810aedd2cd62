//! Options whose value is one of a domain enum's (`--pods`, `--endpoint-names`,
//! `--zone-file`, `--streaming-list`): the command line lists and parses them from the
//! enum's own names, and gives each its help here, so the domain types carry no CLI
//! derive and each name is written once.

use std::marker::PhantomData;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::source::list_strategy::StreamingList;
use crate::zone::zonefile::ZoneFile;
use crate::zone::{EndpointNames, PodRecords};

/// A domain enum an option chooses from.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every value, in the order `--help` lists them.
    const ALL: &'static [Self];
    /// Its name on the command line (the enum's own).
    fn name(self) -> &'static str;
    /// One line of help.
    fn help(self) -> &'static str;
    /// Older names that still read as it.
    fn aliases(self) -> &'static [&'static str] {
        &[]
    }
}

/// The clap parser of a [`Choice`]: clap's possible values, so an unknown value gets
/// clap's error listing the valid ones.
#[derive(Clone)]
pub struct ChoiceParser<T>(PhantomData<T>);

/// The parser of `T`'s values, for `#[arg(value_parser = choice::<T>())]`.
pub fn choice<T: Choice>() -> ChoiceParser<T> {
    ChoiceParser(PhantomData)
}

impl<T: Choice> ChoiceParser<T> {
    fn values() -> impl Iterator<Item = PossibleValue> {
        T::ALL
            .iter()
            .map(|t| PossibleValue::new(t.name()).help(t.help()).aliases(t.aliases().iter().copied()))
    }
}

impl<T: Choice> TypedValueParser for ChoiceParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let name = PossibleValuesParser::new(Self::values()).parse_ref(cmd, arg, value)?;
        let found = T::ALL.iter().find(|t| t.name() == name || t.aliases().contains(&name.as_str()));
        Ok(*found.expect("clap accepted one of the listed values"))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Self::values()))
    }
}

impl Choice for PodRecords {
    const ALL: &'static [Self] = &PodRecords::ALL;
    fn name(self) -> &'static str {
        PodRecords::name(self)
    }
    fn help(self) -> &'static str {
        match self {
            PodRecords::Disabled => "None: every name under pod.<zone> is NXDOMAIN",
            PodRecords::Insecure => "Any well-formed name answers its address, whether a pod has it or not",
            PodRecords::Verified => {
                "Only an address a pod of that namespace has (and not in a terminal phase)"
            }
        }
    }
}

impl Choice for EndpointNames {
    const ALL: &'static [Self] = &EndpointNames::ALL;
    fn name(self) -> &'static str {
        EndpointNames::name(self)
    }
    fn help(self) -> &'static str {
        match self {
            EndpointNames::Hostname => "The dashed IP (10-1-2-3), as the Kubernetes DNS spec and CoreDNS do",
            EndpointNames::PodName => {
                "The pod's name when it is a valid DNS label (CoreDNS's endpoint_pod_names)"
            }
        }
    }
}

impl Choice for StreamingList {
    const ALL: &'static [Self] = &StreamingList::ALL;
    fn name(self) -> &'static str {
        StreamingList::name(self)
    }
    fn help(self) -> &'static str {
        match self {
            StreamingList::Auto => "Stream where the API server supports it, else paged lists",
            StreamingList::Always => {
                "Always stream (no fallback: an API server without WatchList never syncs)"
            }
            StreamingList::Never => "Always paged lists (limit=500 + continue), what kube-rs does by default",
        }
    }
}

impl Choice for ZoneFile {
    const ALL: &'static [Self] = &ZoneFile::ALL;
    fn name(self) -> &'static str {
        ZoneFile::name(self)
    }
    fn help(self) -> &'static str {
        self.about()
    }
    fn aliases(self) -> &'static [&'static str] {
        match self {
            ZoneFile::Multicluster => &["clusterset"],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line's names are the config file's (serde) names.
    fn names_agree_with_serde<T: Choice + serde::Serialize>() {
        for value in T::ALL {
            let serde = serde_json::to_value(value).unwrap();
            assert_eq!(serde.as_str(), Some(value.name()));
        }
    }

    #[test]
    fn names_are_the_config_files() {
        names_agree_with_serde::<PodRecords>();
        names_agree_with_serde::<EndpointNames>();
        names_agree_with_serde::<StreamingList>();
        let names: Vec<&str> = ZoneFile::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["forward", "in-addr-arpa", "ip6-arpa", "multicluster", "external"]);
    }
}
