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

/// A one-document YAML file cut at its top-level `items:` sequence.
#[derive(Debug, PartialEq)]
pub struct Split {
    /// The document without its items (`apiVersion`, `kind`, `metadata`).
    pub header: String,
    /// Each item, as a document of its own: its lines moved left by the sequence's
    /// indentation and the `- ` marker.
    pub items: Vec<String>,
}

/// Cuts `text` at its top-level `items:` block sequence, or `None` when the file is not a
/// single document with one.
pub fn split(text: &str) -> Option<Split> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    // A leading `---` starts the one document; any other document marker means several.
    if lines.first().is_some_and(|l| is_marker(l)) {
        lines.remove(0);
    }
    if lines.iter().any(|l| is_marker(l) || l.starts_with('%')) {
        return None;
    }
    let start = lines.iter().position(|l| is_items_key(l))?;
    // The sequence's indentation: that of its first entry.
    let first = start + 1 + lines[start + 1..].iter().position(|l| !is_blank_or_comment(l))?;
    let indent = indentation(lines[first]);
    if !is_entry(lines[first], indent) {
        return None; // `items: []`, a flow sequence, a mapping: not cut
    }
    let by = indent + 2;
    let mut items: Vec<String> = Vec::new();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(first) {
        if is_entry(line, indent) {
            // `- key: value` becomes `key: value`.
            items.push(line[by..].to_owned());
        } else if line.trim().is_empty() {
            // Blank, or spaces that may belong to a block scalar's content.
            items.last_mut()?.push_str(if indentation(line) >= by { &line[by..] } else { "\n" });
        } else if indentation(line) >= by {
            items.last_mut()?.push_str(&line[by..]);
        } else if is_blank_or_comment(line) {
            items.last_mut()?.push('\n'); // a comment between entries
        } else if indentation(line) == 0 {
            end = i; // the next top-level key
            break;
        } else {
            return None; // between the left edge and the items' content: not ours to judge
        }
    }
    let mut header: String = lines[..start].concat();
    header.push_str(&lines[end..].concat());
    Some(Split { header, items })
}

/// `---` or `...` at the start of a line: a document marker (YAML forbids them in content).
fn is_marker(line: &str) -> bool {
    (line.starts_with("---") || line.starts_with("..."))
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

/// Blank, or a comment.
fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubectl_list_is_cut_into_documents_at_column_zero() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n\n  # a comment\n- kind: Service\n  spec:\n    x: |\n      two\n       lines\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let split = split(text).expect("cut");
        assert_eq!(split.header, "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\n");
        assert_eq!(
            split.items,
            [
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n\n# a comment\n",
                "kind: Service\nspec:\n  x: |\n    two\n     lines\n"
            ]
        );
    }

    #[test]
    fn block_scalar_lines_that_look_like_comments_or_blanks_are_kept() {
        let text = "kind: List\nitems:\n- kind: ConfigMap\n  data:\n    a: |\n      # not a comment\n        \n \n      x\n# between\n- kind: Pod\n";
        let split = split(text).expect("cut");
        assert_eq!(
            split.items,
            ["kind: ConfigMap\ndata:\n  a: |\n    # not a comment\n      \n\n    x\n\n", "kind: Pod\n"]
        );
    }

    #[test]
    fn an_indented_sequence_and_a_leading_marker_are_cut_too() {
        let text = "---\nkind: List\nitems:\n  - kind: Pod\n    metadata: {name: a}\n  - kind: Pod\n";
        let split = split(text).expect("cut");
        assert_eq!(split.header, "kind: List\n");
        assert_eq!(split.items, ["kind: Pod\nmetadata: {name: a}\n", "kind: Pod\n"]);
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
        ] {
            assert_eq!(split(text), None, "{text}");
        }
    }
}
