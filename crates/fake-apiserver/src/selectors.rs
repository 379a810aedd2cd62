//! Label and field selectors of the fake API server (see `lib.rs`): parsed as
//! the real API server parses them, matched against stored objects.

use serde_json::Value;

#[derive(Clone, Debug)]
pub(super) enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Clone, Debug)]
pub(super) enum FieldReq {
    Eq(String, String),
    NotEq(String, String),
}

#[derive(Clone, Debug, Default)]
pub(super) struct Filter {
    pub(super) namespace: Option<String>,
    pub(super) labels: Vec<LabelReq>,
    pub(super) fields: Vec<FieldReq>,
}

impl Filter {
    pub(super) fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => label(k) != Some(v.as_str()),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        });
        labels_ok
            && self.fields.iter().all(|req| match req {
                FieldReq::Eq(k, v) => field_value(obj, k) == *v,
                FieldReq::NotEq(k, v) => field_value(obj, k) != *v,
            })
    }
}

fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced parentheses".into());
                }
            }
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    out.push(&s[start..]);
    Ok(out)
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(super) fn parse_label_selector(s: &str) -> Result<Vec<LabelReq>, String> {
    let mut reqs = Vec::new();
    for term in split_top_level(s)? {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let bad = || format!("unable to parse requirement: {term:?}");
        let req = if let Some(k) = term.strip_prefix('!') {
            let k = k.trim();
            if !valid_key(k) {
                return Err(bad());
            }
            LabelReq::NotExists(k.to_string())
        } else if let Some(open) = term.find('(') {
            if !term.ends_with(')') {
                return Err(bad());
            }
            let head: Vec<&str> = term[..open].split_whitespace().collect();
            let [key, op] = head.as_slice() else {
                return Err(bad());
            };
            if !valid_key(key) {
                return Err(bad());
            }
            let values: Vec<String> = term[open + 1..term.len() - 1]
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if values.is_empty() || !values.iter().all(|v| valid_value(v)) {
                return Err(bad());
            }
            match *op {
                "in" => LabelReq::In(key.to_string(), values),
                "notin" => LabelReq::NotIn(key.to_string(), values),
                _ => return Err(bad()),
            }
        } else if let Some((k, v)) = term.split_once("!=") {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) || !valid_value(v) {
                return Err(bad());
            }
            LabelReq::NotEq(k.into(), v.into())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) || !valid_value(v) {
                return Err(bad());
            }
            LabelReq::Eq(k.into(), v.into())
        } else {
            if !valid_key(term) {
                return Err(bad());
            }
            LabelReq::Exists(term.to_string())
        };
        reqs.push(req);
    }
    Ok(reqs)
}

pub(super) fn parse_field_selector(s: &str) -> Result<Vec<FieldReq>, String> {
    let mut reqs = Vec::new();
    for term in s.split(',') {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let bad = || format!("invalid field selector: {term:?}");
        let req = if let Some((k, v)) = term.split_once("!=") {
            FieldReq::NotEq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            FieldReq::Eq(k.trim().into(), v.trim().into())
        } else {
            return Err(bad());
        };
        match &req {
            FieldReq::Eq(k, _) | FieldReq::NotEq(k, _) if k.is_empty() => return Err(bad()),
            _ => {}
        }
        reqs.push(req);
    }
    Ok(reqs)
}
