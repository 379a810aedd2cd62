//! Cutting a multi-document YAML stream into its documents while it is read, so that one
//! document is parsed at a time.
//!
//! *Why:* `helm template` and `kustomize build` write a whole cluster as one
//! `---`-separated file. serde_yaml loads one document's events at a time, but the file
//! was read whole first, and its objects waited for the end of the file: at 100k pods
//! (a 159 MiB file) the load peaked at seven times the memory of the index they fill
//! (docs/performance.md).
//!
//! A `---` at the start of a line, followed by a space, a tab or a line break (as libyaml
//! reads them), starts a document wherever it is: YAML forbids it in any content (a block
//! scalar or a plain scalar ends there; a quoted scalar or a flow collection left open is
//! an error), and anchors do not reach across documents. So the text between two such
//! lines is one document, which parses alone exactly as within the stream. What could
//! make a piece read differently is declined ([`Next::Unsafe`]): a directive (`%YAML`,
//! `%TAG`, which apply to the documents after them) and a document end marker (`...`,
//! after which a document may start without `---`). A piece that does not parse alone (an
//! alias to another document's anchor, a syntax error) is the caller's to judge: it parses
//! the file whole, which also gives the error its line and column in the file.

use std::io::BufRead;

/// What the next look at the stream found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next<T> {
    /// One document's text, from its `---` line (none for the first one) to the line
    /// before the next `---`.
    Document(T),
    /// A line that makes cutting unsafe: read the file whole.
    Unsafe,
}

/// What a line means to the cut: it makes cutting unsafe, it starts a document, or
/// neither.
fn line_kind(line: &str) -> Option<Next<()>> {
    if !matches!(line.as_bytes().first(), Some(b'%' | b'.' | b'-')) {
        None // most lines
    } else if line.starts_with('%') || is_marker(line, "...") {
        Some(Next::Unsafe)
    } else if is_marker(line, "---") {
        Some(Next::Document(()))
    } else {
        None
    }
}

/// The documents of a YAML stream, read one at a time from `reader`.
pub(super) struct Documents<R> {
    reader: R,
    /// The `---` line that starts the next document, once read.
    next: Option<String>,
    done: bool,
}

impl<R: BufRead> Documents<R> {
    pub(super) fn new(reader: R) -> Self {
        Self { reader, next: None, done: false }
    }

    /// The next document, `None` at the end of the stream.
    pub(super) fn next(&mut self) -> std::io::Result<Option<Next<String>>> {
        if self.done {
            return Ok(None);
        }
        let mut text = self.next.take().unwrap_or_default();
        loop {
            let start = text.len();
            if self.reader.read_line(&mut text)? == 0 {
                self.done = true;
                return Ok((!text.is_empty()).then_some(Next::Document(text)));
            }
            match line_kind(&text[start..]) {
                Some(Next::Unsafe) => {
                    self.done = true;
                    return Ok(Some(Next::Unsafe));
                }
                Some(Next::Document(())) if start > 0 => {
                    self.next = Some(text[start..].to_owned());
                    text.truncate(start);
                    return Ok(Some(Next::Document(text)));
                }
                _ => {}
            }
        }
    }
}

/// The documents of a YAML stream already in memory, as slices of it.
pub(super) struct TextDocuments<'a> {
    rest: &'a str,
    done: bool,
}

impl<'a> TextDocuments<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { rest: text, done: false }
    }
}

impl<'a> Iterator for TextDocuments<'a> {
    type Item = Next<&'a str>;

    fn next(&mut self) -> Option<Next<&'a str>> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let mut at = 0;
        for line in self.rest.split_inclusive('\n') {
            match line_kind(line) {
                Some(Next::Unsafe) => {
                    self.done = true;
                    return Some(Next::Unsafe);
                }
                Some(Next::Document(())) if at > 0 => break,
                _ => at += line.len(),
            }
        }
        let (document, rest) = self.rest.split_at(at);
        self.rest = rest;
        Some(Next::Document(document))
    }
}

/// `---` or `...` (`marker`) at the start of `line`, followed by what libyaml takes for
/// a blank or a line break, or nothing.
pub(super) fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker).is_some_and(|rest| rest.chars().next().is_none_or(is_blank_or_break))
}

fn is_blank_or_break(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\0')
}

/// A character libyaml's reader accepts (it refuses control characters anywhere, even
/// in a comment).
fn is_readable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// A line break as libyaml reads them.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// One line (without its line break) that holds nothing for libyaml: spaces (not tabs:
/// a tab at a line's start is an error in block context), then nothing or a comment.
fn holds_nothing(line: &str) -> bool {
    let rest = line.trim_start_matches(' ');
    (rest.is_empty() || rest.starts_with('#')) && rest.chars().all(|c| is_readable(c) && !is_break(c))
}

/// A line, with its `\n` (or `\r\n`), that holds nothing for libyaml ([`holds_nothing`],
/// and no other line break in it): what a cut may drop.
pub(super) fn is_blank_line(line: &str) -> bool {
    let line = line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l));
    holds_nothing(line)
}

/// The text of a document that identifies it wherever it stands: without its first line
/// when that is a bare `---` (nothing after it but a comment), which the first document
/// of a file does not have.
pub(super) fn content(document: &str) -> &str {
    let first = document.split_inclusive('\n').next().unwrap_or_default();
    if is_bare_marker(first) { &document[first.len()..] } else { document }
}

/// A `---` line with nothing after it but spaces and a comment.
pub(super) fn is_bare_marker(line: &str) -> bool {
    is_marker(line, "---") && is_blank_line(&line[3..])
}

/// The text before a file's first `---`, when it holds no document: blank lines and
/// comments (after a byte-order mark, if any), where lines are what libyaml takes for
/// lines.
pub(super) fn is_blank(text: &str) -> bool {
    text.strip_prefix('\u{feff}').unwrap_or(text).split(is_break).all(holds_nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut, read from a reader; checked to be the same cut as of the text in memory.
    fn cut(text: &str) -> Vec<Next<String>> {
        let mut documents = Documents::new(text.as_bytes());
        let read: Vec<Next<String>> = std::iter::from_fn(|| documents.next().unwrap()).collect();
        let sliced: Vec<Next<String>> = TextDocuments::new(text)
            .map(|next| match next {
                Next::Document(document) => Next::Document(document.to_owned()),
                Next::Unsafe => Next::Unsafe,
            })
            .collect();
        assert_eq!(read, sliced, "{text:?}");
        read
    }

    fn docs(pieces: &[&str]) -> Vec<Next<String>> {
        pieces.iter().map(|p| Next::Document((*p).to_owned())).collect()
    }

    #[test]
    fn a_stream_is_cut_at_its_markers_and_each_document_keeps_its_own() {
        let text = "# leading comment\n---\na: 1\n--- # two\nb: |\n  x\n---\t\nc: 3\n---\n";
        assert_eq!(
            cut(text),
            docs(&["# leading comment\n", "---\na: 1\n", "--- # two\nb: |\n  x\n", "---\t\nc: 3\n", "---\n"])
        );
        assert_eq!(cut("a: 1"), docs(&["a: 1"]));
        assert_eq!(cut("---\na: 1\n"), docs(&["---\na: 1\n"]));
        assert_eq!(cut(""), docs(&[]));
        // Not markers: in content, after other characters, indented.
        assert_eq!(cut("a: ---\n----\n ---\n---x\n"), docs(&["a: ---\n----\n ---\n---x\n"]));
        // Windows line ends.
        assert_eq!(cut("a: 1\r\n---\r\nb: 2\r\n"), docs(&["a: 1\r\n", "---\r\nb: 2\r\n"]));
    }

    #[test]
    fn directives_and_document_end_markers_are_declined() {
        for text in ["%YAML 1.2\n---\na: 1\n", "a: 1\n...\nb: 2\n", "a: 1\n---\nb: 2\n... # end\n"] {
            assert_eq!(cut(text).last(), Some(&Next::Unsafe), "{text}");
        }
        assert_eq!(cut("a: '...'\nb: ...x\n"), docs(&["a: '...'\nb: ...x\n"]));
    }

    #[test]
    fn a_document_is_known_by_its_content_wherever_it_stands() {
        assert_eq!(content("---\na: 1\n"), "a: 1\n");
        assert_eq!(content("--- # c\na: 1\n"), "a: 1\n");
        assert_eq!(content("a: 1\n"), "a: 1\n");
        assert_eq!(content("--- |\n  x\n"), "--- |\n  x\n");
        assert_eq!(content("---"), "");
        assert!(is_blank("\u{feff}# a\n\n  # b\r\n") && is_blank("") && !is_blank("a: 1\n# b\n"));
        // libyaml breaks lines at a lone CR too: what follows it is content.
        assert!(!is_blank("# a\rb: 1\n") && !is_bare_marker("--- # a\rb: 1\n"));
        assert!(is_blank("# a\u{85}# b\n") && !is_blank("\t# a\n") && !is_blank("# \u{1}\n"));
        assert!(is_blank("# a\u{feff}\n"), "libyaml reads a BOM in a comment");
        assert!(is_bare_marker("--- # a\r\n") && !is_bare_marker("--- # \u{7f}\n"));
        assert!(is_blank_line("  # a\r\n") && !is_blank_line("\t\n") && !is_blank_line("\u{a0}\n"));
        assert_eq!(content("--- \u{a0}x\n"), "--- \u{a0}x\n", "a no-break space is content");
        assert!(!is_marker("---\u{a0}x", "---"));
    }
}
