//! Kubernetes syntax the options carry: `--namespace` (a DNS-1123 label) and
//! `--label-selector` (a label selector). Both are sent to the API server as given, which
//! refuses a malformed one only once the server is running — each watch failing, retried
//! forever, with the API server's message in the log. Checked here, the mistake is named
//! when the configuration is read, and `check-config` finds it.

/// `--namespace NS`: a DNS-1123 label (lower-case letters, digits and `-`, at most 63,
/// starting and ending with a letter or digit), as Kubernetes requires of a namespace.
pub(super) fn parse_namespace(value: &str) -> Result<String, String> {
    if is_dns1123_label(value) {
        return Ok(value.to_owned());
    }
    let hint = if value.bytes().any(|b| b.is_ascii_uppercase()) {
        format!(" (namespaces are lower-case: {:?}?)", value.to_ascii_lowercase().replace('_', "-"))
    } else {
        String::new()
    };
    Err(format!(
        "{value:?} is not a Kubernetes namespace: lower-case letters, digits and '-', at most 63, \
         starting and ending with a letter or digit{hint}"
    ))
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 bytes.
fn is_dns1123_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// `--label-selector`: comma-separated requirements as the API server parses them
/// (apimachinery's `labels.Parse`): `key`, `!key`, `key=value`, `key==value`,
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>N`, `key<N`. Returned as given.
pub(super) fn parse_label_selector(value: &str) -> Result<String, String> {
    let mut depth = 0usize;
    let mut start = 0;
    let mut requirements = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            '(' if depth > 0 => return Err("a '(' inside a set of values".into()),
            '(' => depth += 1,
            ')' if depth == 0 => return Err("a ')' closes no '('".into()),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                requirements.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("unbalanced parentheses: a '(' is not closed".into());
    }
    requirements.push(&value[start..]);
    if requirements.len() == 1 && requirements[0].trim().is_empty() {
        return Ok(value.to_owned()); // empty: every pod, as the API server reads it
    }
    for requirement in requirements {
        requirement_ok(requirement.trim())
            .map_err(|e| format!("requirement {:?}: {e}", requirement.trim()))?;
    }
    Ok(value.to_owned())
}

/// One requirement of a label selector.
fn requirement_ok(requirement: &str) -> Result<(), String> {
    if requirement.is_empty() {
        return Err("empty (two commas in a row, or one at an end)".into());
    }
    if let Some(key) = requirement.strip_prefix('!') {
        return label_key_ok(key.trim());
    }
    let end =
        requirement.find(|c: char| c.is_whitespace() || "!=<>(".contains(c)).unwrap_or(requirement.len());
    let (key, rest) = requirement.split_at(end);
    label_key_ok(key)?;
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(());
    }
    for operator in ["==", "!=", "="] {
        if let Some(value) = rest.strip_prefix(operator) {
            return label_value_ok(value.trim());
        }
    }
    for operator in [">", "<"] {
        if let Some(value) = rest.strip_prefix(operator) {
            let value = value.trim();
            return match value.parse::<i64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("{operator} needs a whole number, not {value:?}")),
            };
        }
    }
    for operator in ["notin", "in"] {
        if let Some(set) = rest.strip_prefix(operator)
            && (set.starts_with('(') || set.starts_with(char::is_whitespace))
        {
            let set = set.trim();
            let Some(values) = set.strip_prefix('(').and_then(|s| s.strip_suffix(')')) else {
                return Err(format!(
                    "{operator} needs a set of values in parentheses, e.g. {key} {operator} (a,b)"
                ));
            };
            if values.trim().is_empty() {
                return Err(format!("{operator} needs at least one value"));
            }
            return values.split(',').try_for_each(|v| label_value_ok(v.trim()));
        }
    }
    Err(format!("after the key {key:?}, expected =, ==, !=, in (...), notin (...), > or <, not {rest:?}"))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name.
fn label_key_ok(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || !prefix.split('.').all(is_dns1123_label))
    {
        return Err(format!("the key's prefix {prefix:?} is not a DNS subdomain (e.g. example.com/)"));
    }
    if name.is_empty() || !is_label_name(name) {
        return Err(format!(
            "{key:?} is not a label key: at most 63 letters, digits, '-', '_' and '.', starting and \
             ending with a letter or digit, after an optional prefix/"
        ));
    }
    Ok(())
}

/// A label value: empty, or as a key's name.
fn label_value_ok(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        return Ok(());
    }
    Err(format!(
        "{value:?} is not a label value: at most 63 letters, digits, '-', '_' and '.', starting and \
         ending with a letter or digit"
    ))
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 bytes.
fn is_label_name(name: &str) -> bool {
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    name.len() <= 63
        && alphanumeric(name.chars().next())
        && alphanumeric(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_a_dns_label() {
        for ok in ["default", "kube-system", "a", "ns-1"] {
            assert_eq!(parse_namespace(ok).as_deref(), Ok(ok));
        }
        let e = parse_namespace("Default_NS").unwrap_err();
        assert!(
            e.starts_with("\"Default_NS\" is not a Kubernetes namespace") && e.contains("\"default-ns\"?"),
            "{e}"
        );
        for bad in ["", "-a", "a-", "a.b", &"a".repeat(64)] {
            assert!(parse_namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_selectors_are_checked_as_the_api_server_parses_them() {
        for ok in [
            "",
            "dns=headless",
            "dns!=off",
            "dns==on, tier in (db, cache)",
            "!canary",
            "app.kubernetes.io/name notin (a,b),env",
            "app in (a,)",
            "gen>3",
            "x=",
        ] {
            assert_eq!(parse_label_selector(ok).as_deref(), Ok(ok));
        }
        for (bad, says) in [
            ("a in (b", "a '(' is not closed"),
            ("a in b)", "closes no '('"),
            ("a in ()", "at least one value"),
            ("a in b", "in parentheses"),
            ("a,,b", "empty"),
            ("a=b,", "empty"),
            ("a=b c", "\"b c\" is not a label value"),
            ("a b", "expected =, ==, !="),
            ("-a=b", "is not a label key"),
            ("Example.com/a=b", "prefix"),
            ("a>b", "a whole number"),
        ] {
            let e = parse_label_selector(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
