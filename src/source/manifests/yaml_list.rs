//! Cutting a YAML `List` into its items before parsing, so that one item is parsed at a
//! time.
//!
//! *Why:* serde_yaml reads all the events of a document before deserializing any of it,
//! and `kubectl get -o yaml` writes a whole namespace, or a whole cluster, as one `List`
//! document: the events of a large one took twice the memory of the index it fills
//! (docs/performance.md, design notes). Each item of a block-style list is a whole YAML
//! node at one indentation, so it can be cut out of the text and parsed on its own.
//!
//! Only a file that is one document whose top-level `items:` is a block sequence (as
//! kubectl prints it) is cut. The caller parses the file whole when [`split`] declines,
//! and also when a piece does not parse on its own (an alias to an anchor in another
//! item, say), which also gives errors their line in the file.

use super::stream::is_blank_line;

/// A one-document YAML file cut at its top-level `items:` sequence.
#[derive(Debug, PartialEq)]
pub struct Split<'a> {
    /// The document without its items (`apiVersion`, `kind`, `metadata`).
    pub header: String,
    /// Each item, as it stands in the text.
    pub items: Vec<Item<'a>>,
}

/// One item of a cut `List`: its lines in the text, which [`Item::text`] makes a document
/// of its own.
#[derive(Debug, PartialEq)]
pub struct Item<'a> {
    /// The lines of the item, from its `- ` line to the next item or the end of the
    /// sequence (comments after it included).
    pub raw: &'a str,
    /// The sequence's indentation and the `- ` marker: how far its lines move left.
    pub by: usize,
}

impl Item<'_> {
    /// The item as a document of its own: its lines moved left by the sequence's
    /// indentation and the `- ` marker.
    pub fn text(&self) -> String {
        let by = self.by;
        let mut text = String::with_capacity(self.raw.len());
        for (i, line) in self.raw.split_inclusive('\n').enumerate() {
            if i == 0 {
                text.push_str(&line[by..]); // `- key: value` becomes `key: value`
            } else if line.trim().is_empty() {
                // Blank, or spaces that may belong to a block scalar's content.
                text.push_str(if indentation(line) >= by { &line[by..] } else { "\n" });
            } else if indentation(line) >= by {
                text.push_str(&line[by..]);
            } else {
                text.push('\n'); // a comment between entries
            }
        }
        text
    }
}

/// Cuts `text` at its top-level `items:` block sequence, or `None` when the file is not a
/// single document with one. The items are not copied: [`Item::text`] makes each one.
pub fn split(text: &str) -> Option<Split<'_>> {
    /// Where the one pass over the lines is.
    enum At {
        Header,
        BeforeFirstItem,
        Items { indent: usize },
        After { indent: usize },
    }
    let mut body = text;
    // A leading `---` starts the one document; any other document marker means several.
    if let Some(first) = body.split_inclusive('\n').next()
        && is_marker(first)
    {
        body = &body[first.len()..];
    }
    // libyaml also starts a line at a lone CR, a NEL, an LS or a PS: a cut at `\n` would
    // move what follows them. Rare, and looked for line by line only when maybe there.
    let other_breaks = body.bytes().any(|b| matches!(b, b'\r' | 0xC2 | 0xE2));
    let mut at = At::Header;
    let (mut start, mut end, mut offset) = (0, body.len(), 0);
    let mut bounds: Vec<usize> = Vec::new();
    for line in body.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        if is_marker(line) || line.starts_with('%') || other_breaks && has_other_break(line) {
            return None;
        }
        match at {
            At::Header if is_items_key(line) => {
                start = here;
                at = At::BeforeFirstItem;
            }
            // Lines the cut drops must hold nothing for libyaml either.
            At::BeforeFirstItem if is_blank_or_comment(line) && !is_blank_line(line) => return None,
            At::BeforeFirstItem if !is_blank_or_comment(line) => {
                // The sequence's indentation: that of its first entry.
                let indent = indentation(line);
                if !is_entry(line, indent) {
                    return None; // `items: []`, a flow sequence, a mapping: not cut
                }
                bounds.push(here);
                at = At::Items { indent };
            }
            At::Items { indent } => {
                if is_entry(line, indent) {
                    bounds.push(here);
                } else if indentation(line) >= indent + 2 {
                    // The item's content.
                } else if line.trim().is_empty() || is_blank_or_comment(line) {
                    // Blank, a comment between entries: a line break in the item's text, so
                    // it must hold nothing for libyaml either (a tab, a control character).
                    if !is_blank_line(line) {
                        return None;
                    }
                } else if indentation(line) == 0 {
                    end = here; // the next top-level key
                    at = At::After { indent };
                } else {
                    return None; // between the left edge and the items' content: not ours to judge
                }
            }
            _ => {}
        }
    }
    let by = match at {
        At::Items { indent } | At::After { indent } => indent + 2,
        At::Header | At::BeforeFirstItem => return None, // no `items:`, or no entry after it
    };
    bounds.push(end);
    let items = bounds.windows(2).map(|w| Item { raw: &body[w[0]..w[1]], by }).collect();
    let mut header = body[..start].to_owned();
    header.push_str(&body[end..]);
    Some(Split { header, items })
}

/// `---` or `...` at the start of a line: a document marker (YAML forbids them in content).
fn is_marker(line: &str) -> bool {
    matches!(line.as_bytes().first(), Some(b'-' | b'.'))
        && (line.starts_with("---") || line.starts_with("..."))
        && line[3..].chars().next().is_none_or(|c| c.is_whitespace())
}

/// `items:` as a top-level key with its value on the next lines.
fn is_items_key(line: &str) -> bool {
    line.strip_prefix("items:").is_some_and(|rest| {
        let rest = rest.trim_start();
        rest.is_empty() || rest.starts_with('#')
    })
}

/// An entry of the sequence at `indent`: `- ` (or a lone `-`) at that column.
fn is_entry(line: &str, indent: usize) -> bool {
    indentation(line) == indent
        && line[indent..].starts_with('-')
        && line[indent + 1..].chars().next().is_some_and(|c| c == ' ' || c == '\n' || c == '\r')
        && !line[indent + 1..].trim().is_empty()
}

/// A line break other than the `\n` (or `\r\n`) that ends `line`.
fn has_other_break(line: &str) -> bool {
    let content = line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l));
    content.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// Blank, or a comment.
fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

fn indentation(line: &str) -> usize {
    line.bytes().take_while(|&b| b == b' ').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(split: &Split<'_>) -> Vec<String> {
        split.items.iter().map(Item::text).collect()
    }

    #[test]
    fn a_kubectl_list_is_cut_into_documents_at_column_zero() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n\n  # a comment\n- kind: Service\n  spec:\n    x: |\n      two\n       lines\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let split = split(text).expect("cut");
        assert_eq!(split.header, "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\n");
        assert_eq!(
            texts(&split),
            [
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n\n# a comment\n",
                "kind: Service\nspec:\n  x: |\n    two\n     lines\n"
            ]
        );
        assert_eq!(split.items[1].raw, "- kind: Service\n  spec:\n    x: |\n      two\n       lines\n");
    }

    #[test]
    fn block_scalar_lines_that_look_like_comments_or_blanks_are_kept() {
        let text = "kind: List\nitems:\n- kind: ConfigMap\n  data:\n    a: |\n      # not a comment\n        \n \n      x\n# between\n- kind: Pod\n";
        let split = split(text).expect("cut");
        assert_eq!(
            texts(&split),
            ["kind: ConfigMap\ndata:\n  a: |\n    # not a comment\n      \n\n    x\n\n", "kind: Pod\n"]
        );
    }

    #[test]
    fn an_indented_sequence_and_a_leading_marker_are_cut_too() {
        let text = "---\nkind: List\nitems:\n  - kind: Pod\n    metadata: {name: a}\n  - kind: Pod\n";
        let split = split(text).expect("cut");
        assert_eq!(split.header, "kind: List\n");
        assert_eq!(texts(&split), ["kind: Pod\nmetadata: {name: a}\n", "kind: Pod\n"]);
    }

    #[test]
    fn anything_else_is_left_to_the_whole_document_parser() {
        for text in [
            "kind: List\nitems: []\n",
            "kind: List\nitems: [{kind: Pod}]\n",
            "kind: List\nitems:\n  kind: Pod\n",
            "kind: List\nitems:\n- kind: Pod\n---\nkind: Pod\n",
            "%YAML 1.2\n---\nkind: List\nitems:\n- kind: Pod\n",
            "kind: Pod\nmetadata: {name: a}\n",
            "kind: List\nitems:\n-\n  kind: Pod\n",
            "kind: List\nitems:\n- kind: Pod\n  bad\n dedent: x\n",
            "kind: List\nitems:\n  - kind: Pod\n  other: x\n",
            // Lines the cut would drop that libyaml does not read as nothing.
            "kind: List\nitems:\n- a: 1\n\t# c\n- b: 2\n",
            "kind: List\nitems:\n- a: 1\n\u{a0}\n- b: 2\n",
            "kind: List\nitems:\n- a: 1\n# \u{0}\n- b: 2\n",
            "kind: List\nitems:\n\t\n- a: 1\n",
            "kind: List\nitems:\n  - a\rb: 1\n",
            "kind: List\nitems:\n- a: 1\u{2028}b: 2\n",
        ] {
            assert_eq!(split(text), None, "{text}");
        }
    }
}
