//! The layering of the library's top-level modules, enforced: each module may import only
//! modules of lower layers (docs/development.md draws the map). A `use crate::…` that
//! points up or sideways fails here, with the file and the edge, before it becomes an
//! import cycle. Test code (`#[cfg(test)]` items, `tests/` folders, `testing.rs`) may
//! reach up: building state through the layers above is what its tests are for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may import the modules of the layers below its own.
const LAYERS: &[&[&str]] = &[
    // Leaves: persistent-map packing, wire-format helpers, access lists.
    &["packed", "wire", "access"],
    // Cluster objects and the state they form.
    &["cluster"],
    // Records and lookup of every zone kind; the zone set published as one snapshot.
    &["zone"],
    // Readers of a snapshot that the query path uses: transfers, resolver forwarding,
    // and explain.
    &["xfer", "forward", "explain"],
    // The query path: sockets, the handler, response caches.
    &["dns"],
    // The single writer: applies updates, sets serials, records journals, publishes.
    &["index"],
    // Where updates come from: manifests, the Kubernetes API, the state file.
    &["source"],
    // The admin HTTP server: health, metrics, explain, records.
    &["admin"],
    // What the command line and the config file become.
    &["config"],
    // The library's error (wraps config's and the sources'), logging setup.
    &["error", "telemetry"],
    // Wiring: sources → index → dns + admin; the offline commands.
    &["app"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// `text` without comments (doc comments included: intra-doc links are not imports).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if rest.starts_with('"') {
            // A string literal: kept whole, so `//` inside it is not a comment.
            let end = rest[1..]
                .char_indices()
                .scan(false, |escaped, (i, c)| {
                    let done = c == '"' && !*escaped;
                    *escaped = c == '\\' && !*escaped;
                    Some((i, done))
                })
                .find(|(_, done)| *done)
                .map_or(rest.len(), |(i, _)| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The top-level modules `code` names through `crate::…` paths and `crate::{…}` groups.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> Option<String> {
        let name: String =
            s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        name.starts_with(|c: char| c.is_ascii_lowercase()).then_some(name)
    };
    for (at, _) in code.match_indices("crate::") {
        let after = &code[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.extend(ident(&item));
        } else {
            found.extend(ident(after));
        }
    }
    found
}

/// Every edge `from -> to` between top-level modules, with the file it is in.
fn edges(src: &Path) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests") {
                    stack.push(path);
                }
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let file = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !file.ends_with(".rs")
                || file == "tests.rs"
                || file == "testing.rs"
                || file.starts_with("tests_")
            {
                continue;
            }
            let top = rel.iter().next().and_then(|c| c.to_str()).unwrap_or_default().trim_end_matches(".rs");
            if top == "main" || top == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            // Test code comes after the first `#[cfg(test)]` in our files.
            let code = without_comments(text.split("#[cfg(test)]").next().unwrap_or_default());
            for to in imports(&code).into_iter().filter(|to| to != top) {
                edges.entry((top.to_owned(), to)).or_insert_with(|| rel.display().to_string());
            }
        }
    }
    edges
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(edges.len() > 20, "the graph was read: {edges:?}");
    let mut wrong = Vec::new();
    for ((from, to), file) in &edges {
        match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) if b < a => {}
            (None, _) => wrong.push(format!("{file}: module {from} is in no layer of this test")),
            (_, None) => wrong.push(format!("{file}: {from} -> {to}, and {to} is in no layer of this test")),
            _ => wrong.push(format!("{file}: {from} -> {to} points up or sideways")),
        }
    }
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
}

#[test]
fn the_reader_finds_imports_and_ignores_comments() {
    let code = without_comments(
        "use crate::zone::{A, B};\n/// see [`crate::index`]\nuse crate::{cluster::X, wire, packed::{a, b}};\n\
         let s = \"crate::admin // not\"; // crate::source\n/* crate::dns */ crate::Error::X;",
    );
    let found: Vec<String> = imports(&code).into_iter().collect();
    assert_eq!(
        found,
        ["admin", "cluster", "packed", "wire", "zone"],
        "a comment inside a string is not one: {code}"
    );
    assert_eq!(layer_of("zone"), Some(2));
    assert_eq!(layer_of("nothing"), None);
}
