//! Shown output against actual output, with placeholders for what varies from run to run.
//!
//! - `[ID]`: a DNS message id, as dig prints it (`id: [ID]`): digits.
//! - `[SERIAL]`: an SOA serial (the demo's is the time of the load): digits.
//! - `[..]`: any text within the line, none included.
//! - a line `...`: any number of lines, none included.
//!
//! Runs of spaces and tabs compare equal to one space (dig aligns its columns with tabs),
//! trailing whitespace and trailing blank lines are ignored.

/// Which characters a named placeholder stands for.
type CharClass = fn(char) -> bool;

/// Named placeholders and what each stands for.
const NAMED: &[(&str, CharClass)] = &[("[ID]", |c| c.is_ascii_digit()), ("[SERIAL]", |c| c.is_ascii_digit())];

/// The line `...`: any number of lines.
const ANY_LINES: &str = "...";

/// A piece of an expected line.
enum Piece<'a> {
    Text(&'a str),
    /// `[..]`: anything, possibly empty.
    Any,
    /// A named placeholder: one or more characters of the class.
    Class(CharClass),
}

fn pieces(line: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let mut earliest: Option<(usize, usize, Piece<'_>)> = None;
        if let Some(at) = rest.find("[..]") {
            earliest = Some((at, 4, Piece::Any));
        }
        for (name, class) in NAMED {
            if let Some(at) = rest.find(name)
                && earliest.as_ref().is_none_or(|(e, _, _)| at < *e)
            {
                earliest = Some((at, name.len(), Piece::Class(*class)));
            }
        }
        match earliest {
            Some((at, len, piece)) => {
                if at > 0 {
                    out.push(Piece::Text(&rest[..at]));
                }
                out.push(piece);
                rest = &rest[at + len..];
            }
            None => {
                out.push(Piece::Text(rest));
                break;
            }
        }
    }
    out
}

fn line_matches(pieces: &[Piece<'_>], actual: &str) -> bool {
    match pieces.split_first() {
        None => actual.is_empty(),
        Some((Piece::Text(text), rest)) => actual.strip_prefix(text).is_some_and(|a| line_matches(rest, a)),
        Some((Piece::Any, rest)) => actual
            .char_indices()
            .map(|(i, _)| i)
            .chain([actual.len()])
            .any(|i| line_matches(rest, &actual[i..])),
        Some((Piece::Class(class), rest)) => {
            // At least one character of the class, then the rest of the line.
            let run = actual.char_indices().find(|(_, c)| !class(*c)).map_or(actual.len(), |(i, _)| i);
            (1..=run).filter(|&i| actual.is_char_boundary(i)).any(|i| line_matches(rest, &actual[i..]))
        }
    }
}

/// A line as compared: runs of whitespace as one space, none at the ends.
pub fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn trimmed(lines: Vec<String>) -> Vec<String> {
    let mut lines = lines;
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Where the comparison went wrong.
#[derive(Debug)]
pub struct Mismatch {
    /// The index of the expected line that did not match, or `expected.len()` when the
    /// actual output goes on after all of it.
    pub expected_line: usize,
    /// The index of the actual line there (`None`: the actual output ended).
    pub actual_line: Option<usize>,
}

/// Whether `actual` is the output `expected` shows; else the furthest point the comparison got to.
pub fn compare(expected: &[String], actual: &str) -> Result<(), Mismatch> {
    let expected = trimmed(expected.iter().map(|l| normalize(l)).collect());
    let actual = trimmed(actual.lines().map(normalize).collect());
    let parsed: Vec<Option<Vec<Piece<'_>>>> =
        expected.iter().map(|l| (l != ANY_LINES).then(|| pieces(l))).collect();
    let mut furthest = (0, 0);
    if lines_match(&parsed, 0, &actual, 0, &mut furthest) {
        return Ok(());
    }
    let (e, a) = furthest;
    Err(Mismatch { expected_line: e, actual_line: (a < actual.len()).then_some(a) })
}

fn lines_match(
    expected: &[Option<Vec<Piece<'_>>>],
    e: usize,
    actual: &[String],
    a: usize,
    furthest: &mut (usize, usize),
) -> bool {
    if (e, a) > *furthest {
        *furthest = (e, a);
    }
    match expected.get(e) {
        None => a == actual.len(),
        Some(None) => (a..=actual.len()).any(|skip| lines_match(expected, e + 1, actual, skip, furthest)),
        Some(Some(pieces)) => {
            a < actual.len()
                && line_matches(pieces, &actual[a])
                && lines_match(expected, e + 1, actual, a + 1, furthest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn placeholders_match_what_varies_and_nothing_else() {
        let expected = lines(";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: [ID]");
        assert!(compare(&expected, ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4410\n").is_ok());
        assert!(compare(&expected, ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 4410\n").is_err());
        assert!(compare(&expected, ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: \n").is_err());
        assert!(compare(&expected, ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 44x\n").is_err());
        let soa = lines(
            "cluster.local.\t\t1\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. [SERIAL] 7200 1800 86400 1",
        );
        assert!(compare(&soa, "cluster.local. 1 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796652634 7200 1800 86400 1").is_ok());
        assert!(compare(&soa, "cluster.local. 1 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796652634 7200 1800 86400 5").is_err());
        let any = lines("- closest existing names: [..], warehouse.data.svc.cluster.local.");
        assert!(compare(&any, "- closest existing names: a., b., warehouse.data.svc.cluster.local.").is_ok());
        assert!(compare(&any, "- closest existing names: a., b.").is_err());
    }

    #[test]
    fn an_ellipsis_line_stands_for_any_lines() {
        let expected = lines("first\n...\nlast");
        assert!(compare(&expected, "first\nlast").is_ok());
        assert!(compare(&expected, "first\n2\n3\nlast\n").is_ok());
        assert!(compare(&expected, "first\n2\n3\n").is_err());
        assert!(compare(&expected, "first\nlast\nmore").is_err());
    }

    #[test]
    fn a_wrong_line_is_found_where_it_is() {
        let expected = lines("a\nb\nc");
        let mismatch = compare(&expected, "a\nB\nc\n").unwrap_err();
        assert_eq!((mismatch.expected_line, mismatch.actual_line), (1, Some(1)));
        let mismatch = compare(&expected, "a\nb\nc\nd").unwrap_err();
        assert_eq!((mismatch.expected_line, mismatch.actual_line), (3, Some(3)));
        let mismatch = compare(&expected, "a\nb").unwrap_err();
        assert_eq!((mismatch.expected_line, mismatch.actual_line), (2, None));
    }
}
