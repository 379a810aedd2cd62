//! The query parameters of `/explain` and `/records`, checked strictly: a parameter we do
//! not know, or a value we cannot use, is an error naming the valid ones — a typo such as
//! `format=xml` or `zone_file=` must not silently give the default answer.

use std::str::FromStr;

use hickory_proto::rr::RecordType;

use crate::zone::zonefile::ZoneFile;

/// How `/explain` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (the default).
    Json,
    /// The sentences `headless-dns explain` prints.
    Text,
}

/// Checked `/explain` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainParams {
    /// The name to explain.
    pub name: String,
    /// The record type (default A).
    pub qtype: RecordType,
    /// The answer's format.
    pub format: Format,
}

const EXPLAIN_VALID: &str = "/explain takes name=NAME (required), type=TYPE (A, AAAA, SRV, PTR, ...; default A) and format=json|text (default json)";
/// What `/records` takes, from [`ZoneFile::ALL`] so that no zone is left out of it.
fn records_valid() -> String {
    let names: Vec<&str> = ZoneFile::ALL.iter().map(|z| z.name()).collect();
    format!(
        "/records takes zone={} or an external zone's apex (zone=example.com) (default forward; zone-file= is the same)",
        names.join("|")
    )
}

/// `value` of `key`, which must appear at most once.
fn single<'a>(pairs: &'a [(String, String)], key: &str, valid: &str) -> Result<Option<&'a str>, String> {
    let mut values = pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("parameter {key:?} given more than once; {valid}"));
    }
    Ok(first)
}

fn known(pairs: &[(String, String)], keys: &[&str], valid: &str) -> Result<(), String> {
    match pairs.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
        Some((k, _)) => Err(format!("unknown parameter {k:?}; {valid}")),
        None => Ok(()),
    }
}

impl ExplainParams {
    /// Checks `/explain`'s parameters.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, String> {
        known(pairs, &["name", "type", "format"], EXPLAIN_VALID)?;
        let name = match single(pairs, "name", EXPLAIN_VALID)? {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => return Err(format!("missing name; {EXPLAIN_VALID}")),
        };
        let qtype = single(pairs, "type", EXPLAIN_VALID)?.unwrap_or("A");
        let qtype = RecordType::from_str(&qtype.to_ascii_uppercase())
            .map_err(|_| format!("unknown record type {qtype:?}; {EXPLAIN_VALID}"))?;
        let format = match single(pairs, "format", EXPLAIN_VALID)? {
            None | Some("json") => Format::Json,
            Some("text") => Format::Text,
            Some(other) => return Err(format!("format={other:?} is not json or text; {EXPLAIN_VALID}")),
        };
        Ok(Self { name, qtype, format })
    }
}

/// Checks `/records`'s parameters: which zone file.
pub fn records_zone(pairs: &[(String, String)]) -> Result<ZoneFile, String> {
    let valid = &records_valid();
    known(pairs, &["zone", "zone-file"], valid)?;
    let (zone, zone_file) = (single(pairs, "zone", valid)?, single(pairs, "zone-file", valid)?);
    if zone.is_some() && zone_file.is_some() {
        return Err(format!("zone and zone-file are the same parameter, give one; {valid}"));
    }
    let name = zone.or(zone_file).unwrap_or(ZoneFile::Forward.name());
    name.parse().map_err(|_| format!("unknown zone {name:?}; {valid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn explain_parameters_are_checked() {
        let ok =
            ExplainParams::parse(&pairs(&[("name", "a.b"), ("type", "aaaa"), ("format", "text")])).unwrap();
        assert_eq!(ok, ExplainParams { name: "a.b".into(), qtype: RecordType::AAAA, format: Format::Text });
        let default = ExplainParams::parse(&pairs(&[("name", "a.b")])).unwrap();
        assert_eq!((default.qtype, default.format), (RecordType::A, Format::Json));
        for (bad, says) in [
            (&[("name", "a"), ("format", "xml")][..], "format=\"xml\""),
            (&[("name", "a"), ("type", "BOGUS")][..], "\"BOGUS\""),
            (&[("name", "a"), ("qtype", "A")][..], "unknown parameter \"qtype\""),
            (&[("type", "A")][..], "missing name"),
            (&[("name", "a"), ("name", "b")][..], "more than once"),
        ] {
            let error = ExplainParams::parse(&pairs(bad)).unwrap_err();
            assert!(error.contains(says) && error.contains("format=json|text"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn records_parameters_are_checked() {
        assert_eq!(records_zone(&[]).unwrap(), ZoneFile::Forward);
        assert_eq!(records_zone(&pairs(&[("zone", "ip6-arpa")])).unwrap(), ZoneFile::Ip6Arpa);
        assert_eq!(records_zone(&pairs(&[("zone-file", "in-addr-arpa")])).unwrap(), ZoneFile::InAddrArpa);
        for bad in [
            &[("zone_file", "forward")][..],
            &[("zone", "reverse")][..],
            &[("zone", "forward"), ("zone-file", "forward")][..],
        ] {
            let error = records_zone(&pairs(bad)).unwrap_err();
            assert!(
                error.contains("zone=forward|in-addr-arpa|ip6-arpa|multicluster|external"),
                "{bad:?}: {error}"
            );
        }
    }
}
