//! Reloads: what a look at the files turns into.

use super::*;
use crate::cluster::{Object, Pod};

#[test]
fn a_reload_deletes_what_no_file_has_and_keeps_what_moved() {
    let dir = tempfile::tempdir().unwrap();
    let pods = |names: &[&str]| {
        names
            .iter()
            .map(|n| {
                format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\nstatus: {{podIP: 10.0.0.1}}\n")
            })
            .collect::<Vec<_>>()
            .join("---\n")
    };
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, pods(&["web-0", "web-1", "web-2"])).unwrap();
    std::fs::write(&b, pods(&["db-0"])).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(manifests.reload().updates.len(), 4);
    // web-1 moves to b, web-2 is gone, db-0 is gone.
    std::fs::write(&a, pods(&["web-0"])).unwrap();
    std::fs::write(&b, pods(&["web-1", "extra-0"])).unwrap();
    let deleted: Vec<String> = manifests
        .reload()
        .updates
        .iter()
        .filter_map(|u| match u {
            Update::Delete(Kind::Pod, key) => Some(format!("{}/{}", key.namespace, key.name)),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["default/web-2", "default/db-0"]);
}

#[test]
fn files_parsed_in_parallel_apply_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    // Files of very different sizes, so parsers finish out of order; every file also
    // has `shared`, whose version from the last file must win.
    for i in 0..12 {
        let mut text = String::new();
        for j in 0..(if i % 3 == 0 { 400 } else { 1 }) {
            text += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: f{i:02}-{j}}}\nstatus: {{podIP: 10.0.0.1}}\n---\n"
            );
        }
        text += &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: shared}}\nstatus: {{podIP: 10.0.1.{i}}}\n"
        );
        std::fs::write(dir.path().join(format!("{i:02}.yaml")), text).unwrap();
    }
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    let pods: Vec<Pod> = manifests
        .reload()
        .updates
        .into_iter()
        .filter_map(|u| match u {
            Update::Apply(Object::Pod(pod)) => Some((*pod).clone()),
            _ => None,
        })
        .collect();
    let files: Vec<&str> =
        pods.iter().filter(|p| &*p.key.name != "shared").map(|p| &p.key.name[1..3]).collect();
    let disorder = files.windows(2).find(|w| w[0] > w[1]);
    assert!(
        disorder.is_none(),
        "file {:?} applied after file {:?}",
        disorder.unwrap()[1],
        disorder.unwrap()[0]
    );
    assert_eq!(files.len(), 4 * 400 + 8);
    let last_shared = pods.iter().rev().find(|p| &*p.key.name == "shared").unwrap();
    assert_eq!(last_shared.ips.first().unwrap().to_string(), "10.0.1.11");
}

#[test]
fn a_settled_reload_reads_finished_files_and_waits_for_the_others_to_hold_still() {
    let dir = tempfile::tempdir().unwrap();
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nstatus: {{podIP: 10.0.0.1}}\n")
    };
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, pod("a-0")).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(manifests.reload().updates.len(), 1);
    let none = HashSet::new();
    let applied =
        |report: &LoadReport| report.updates.iter().filter(|u| matches!(u, Update::Apply(_))).count();

    // Truncated by a writer that has not closed it: not read, nothing deleted.
    std::fs::write(&a, "").unwrap();
    let writing: HashSet<PathBuf> = [a.clone()].into();
    let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &writing });
    assert!(report.updates.is_empty() && !report.unsettled, "{:?}", report.updates);
    // Closed: read at once.
    std::fs::write(&a, pod("a-1")).unwrap();
    let done: HashSet<PathBuf> = [a.clone()].into();
    let report = manifests.reload_with(ReadRule::Settled { done: &done, writing: &none });
    assert_eq!(applied(&report), 1);

    // Changed without word from its writer (polling, a lost event): read only once it
    // held still between two looks.
    std::fs::write(&b, pod("b-0")).unwrap();
    let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
    assert!(report.updates.is_empty() && report.unsettled);
    std::fs::write(&b, pod("b-0") + "---\n" + &pod("b-1")).unwrap();
    let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
    assert!(report.updates.is_empty() && report.unsettled, "it moved: look again");
    let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
    assert_eq!((applied(&report), report.unsettled), (2, false));

    // A broken file is reported once, and read again only when it changes.
    std::fs::write(&b, "kind: Pod\nmetadata: {name: [\n").unwrap();
    let done: HashSet<PathBuf> = [b.clone()].into();
    let report = manifests.reload_with(ReadRule::Settled { done: &done, writing: &none });
    assert_eq!((report.errors.len(), report.updates.len()), (1, 0));
    for _ in 0..2 {
        let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
        assert!(report.errors.is_empty() && !report.unsettled && report.updates.is_empty());
        assert!(manifests.reload().errors.is_empty());
    }
    // A vanished root is reported once too, and its objects are kept.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let errors: Vec<String> = manifests.reload().errors.iter().map(ToString::to_string).collect();
    // Without the startup's hint on what to pass: it was passed, and is gone.
    assert_eq!(errors, [format!("{}: no such file or directory any more", dir.path().display())]);
    let report = manifests.reload();
    assert!(report.errors.is_empty() && report.updates.is_empty());
}

/// The updates, spelled: `apply default/web-0 10.0.0.1`, `delete default/web-0`,
/// `reject default/web-0 (m.yaml (document 2))`.
fn spelled(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .map(|update| match update {
            Update::Apply(Object::Pod(pod)) => {
                format!("apply {} {}", pod.key, pod.ips.first().map(|ip| ip.to_string()).unwrap_or_default())
            }
            Update::Apply(object) => format!("apply {} {}", object.kind(), object.key()),
            Update::Delete(kind, key) => format!("delete {kind} {key}"),
            Update::Rejected(kind, key, rejection) => format!("reject {kind} {key} ({})", rejection.origin),
            other => format!("{other:?}"),
        })
        .collect()
}

fn pod_document(name: &str, ip: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nstatus: {{podIP: {ip}}}\n")
}

/// Pods as a `List` (`kubectl get -o yaml`), or as a stream of documents.
fn pods_file(pods: &[(&str, &str)], list: bool) -> String {
    let documents: Vec<String> = pods.iter().map(|(name, ip)| pod_document(name, ip)).collect();
    if !list {
        return documents.join("---\n");
    }
    let items: Vec<String> =
        documents.iter().map(|d| format!("- {}\n", d.trim_end().replace('\n', "\n  "))).collect();
    format!("apiVersion: v1\nitems:\n{}kind: List\nmetadata:\n  resourceVersion: \"\"\n", items.concat())
}

#[test]
fn a_rewritten_file_applies_only_its_changed_documents() {
    for list in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pods.yaml");
        let mut pods: Vec<(String, String)> =
            (0..50).map(|i| (format!("web-{i}"), format!("10.0.0.{}", i + 1))).collect();
        let write = |pods: &[(String, String)]| {
            let pods: Vec<(&str, &str)> = pods.iter().map(|(n, ip)| (n.as_str(), ip.as_str())).collect();
            std::fs::write(&file, pods_file(&pods, list)).unwrap();
        };
        write(&pods);
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert_eq!(manifests.reload().updates.len(), 50);
        // Each rewrite changes another pod: that one alone is applied.
        for i in [7, 0, 49, 23] {
            pods[i].1 = format!("10.0.1.{i}");
            write(&pods);
            assert_eq!(spelled(&manifests.reload().updates), [format!("apply default/web-{i} 10.0.1.{i}")]);
        }
        // Rewritten unchanged, or with its documents in another order: nothing.
        write(&pods);
        assert!(manifests.reload().updates.is_empty());
        pods.swap(3, 40);
        pods.rotate_left(5);
        write(&pods);
        let report = manifests.reload();
        assert!(report.updates.is_empty() && report.errors.is_empty(), "{:?}", spelled(&report.updates));
        // Removed, added, renamed.
        pods.retain(|(name, _)| name != "web-10");
        pods.push(("db-0".into(), "10.0.2.1".into()));
        pods[0].0 = "renamed".into();
        let renamed = format!("apply default/renamed {}", pods[0].1);
        write(&pods);
        let old_name = "web-5"; // first after the rotation
        assert_eq!(
            spelled(&manifests.reload().updates),
            [
                format!("delete Pod default/{old_name}"),
                "delete Pod default/web-10".to_owned(),
                renamed,
                "apply default/db-0 10.0.2.1".to_owned()
            ],
            "list: {list}"
        );
    }
}

#[test]
fn an_invalid_new_version_is_refused_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(&file, pods_file(&[("a", "10.0.0.1"), ("b", "10.0.0.2")], false)).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(manifests.reload().updates.len(), 2);
    // b's new version is invalid: refused, not deleted.
    std::fs::write(&file, pods_file(&[("a", "10.0.0.1"), ("b", "10.0.999.2")], false)).unwrap();
    let report = manifests.reload();
    let origin = format!("{} (document 2)", file.display());
    assert_eq!(spelled(&report.updates), [format!("reject Pod default/b ({origin})")]);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].origin(), origin);
    // Another document changes: b is neither refused again nor deleted.
    std::fs::write(&file, pods_file(&[("a", "10.0.0.9"), ("b", "10.0.999.2")], false)).unwrap();
    assert_eq!(spelled(&manifests.reload().updates), ["apply default/a 10.0.0.9"]);
    // Fixed: applied. Invalid again, then gone from the file: deleted.
    std::fs::write(&file, pods_file(&[("a", "10.0.0.9"), ("b", "10.0.0.3")], false)).unwrap();
    assert_eq!(spelled(&manifests.reload().updates), ["apply default/b 10.0.0.3"]);
    std::fs::write(&file, pods_file(&[("a", "10.0.0.9"), ("b", "bad")], false)).unwrap();
    assert_eq!(manifests.reload().updates.len(), 1);
    std::fs::write(&file, pods_file(&[("a", "10.0.0.9")], false)).unwrap();
    assert_eq!(spelled(&manifests.reload().updates), ["delete Pod default/b"]);
    // A new file whose object was never good: refused too (the index serves nothing).
    std::fs::write(dir.path().join("n.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: c}\n").unwrap();
    let report = manifests.reload();
    assert_eq!(
        spelled(&report.updates),
        [format!("reject Pod default/c ({}/n.yaml (document 1))", dir.path().display())]
    );
    // One without a name cannot be: only skipped.
    std::fs::write(dir.path().join("o.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {}\n").unwrap();
    let report = manifests.reload();
    assert!(report.updates.is_empty() && report.skipped.len() == 1 && report.skipped[0].object.is_none());
}

#[test]
fn a_key_in_two_documents_is_read_as_the_whole_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    let write = |pods: &[(&str, &str)]| std::fs::write(&file, pods_file(pods, false)).unwrap();
    let last_x = |updates: &[Update]| spelled(updates).into_iter().rev().find(|u| u.contains("/x "));
    write(&[("x", "10.0.0.1"), ("y", "10.0.0.2"), ("x", "10.0.0.3")]);
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(last_x(&manifests.reload().updates).unwrap(), "apply default/x 10.0.0.3");
    // The first x changes: the later one still wins, as in a fresh load.
    write(&[("x", "10.0.0.4"), ("y", "10.0.0.2"), ("x", "10.0.0.3")]);
    assert_eq!(last_x(&manifests.reload().updates).unwrap(), "apply default/x 10.0.0.3");
    // The later one goes: the first is served again, not deleted.
    write(&[("x", "10.0.0.4"), ("y", "10.0.0.2")]);
    let updates = manifests.reload().updates;
    assert_eq!(last_x(&updates).unwrap(), "apply default/x 10.0.0.4");
    assert!(!spelled(&updates).iter().any(|u| u.starts_with("delete")), "{:?}", spelled(&updates));
    // A new x before an unchanged one: the unchanged (later) one wins, so it is re-read.
    write(&[("x", "10.0.0.5"), ("x", "10.0.0.4"), ("y", "10.0.0.2")]);
    assert_eq!(last_x(&manifests.reload().updates).unwrap(), "apply default/x 10.0.0.4");
}

#[test]
fn nodes_are_read_from_documents_and_lists_and_deleted_when_gone() {
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n\
             status: {{addresses: [{{type: ExternalIP, address: {ip}}}]}}\n"
        )
    };
    let pod =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: data}\nstatus: {podIP: 10.0.0.1}\n";
    let list = |items: &[String]| {
        let items: Vec<String> =
            items.iter().map(|i| format!("- {}\n", i.trim_end().replace('\n', "\n  "))).collect();
        format!("apiVersion: v1\nkind: NodeList\nitems:\n{}", items.concat())
    };
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, format!("{pod}---\n{}", node("node-1", "203.0.113.1"))).unwrap();
    std::fs::write(&b, list(&[node("node-2", "203.0.113.2"), node("node-3", "203.0.113.3")])).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    let nodes = |report: &LoadReport| -> Vec<String> {
        report
            .updates
            .iter()
            .filter_map(|u| match u {
                Update::Apply(Object::Node(n)) => Some(format!("{}={}", n.name(), n.external_ips[0])),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        nodes(&manifests.reload()),
        ["node-1=203.0.113.1", "node-2=203.0.113.2", "node-3=203.0.113.3"]
    );
    // node-1 (after a namespaced pod in a) moves into b's list, node-2 is gone.
    std::fs::write(&a, pod).unwrap();
    std::fs::write(
        &b,
        format!("{}---\n{pod}", list(&[node("node-1", "203.0.113.1"), node("node-3", "203.0.113.3")])),
    )
    .unwrap();
    let report = manifests.reload();
    let deleted: Vec<String> = report
        .updates
        .iter()
        .filter_map(|u| match u {
            Update::Delete(kind, key) => Some(format!("{kind} {key}")),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["Node /node-2"]);
}

#[test]
fn an_object_another_file_stops_holding_is_served_from_the_file_that_still_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, pods_file(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.11")], false)).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    manifests.reload();
    // The same pod in a second file: its version is the one read last.
    std::fs::write(&b, pods_file(&[("web-0", "10.0.0.2")], false)).unwrap();
    assert_eq!(spelled(&manifests.reload().updates), ["apply default/web-0 10.0.0.2"]);
    // b goes: web-0 is not deleted (a has it), and a is read again, in full, at the next
    // look, so that a's version is served instead of the one that went.
    std::fs::remove_file(&b).unwrap();
    let report = manifests.reload();
    assert!(report.updates.is_empty(), "{:?}", spelled(&report.updates));
    assert!(report.unsettled, "another look is asked for");
    let again = spelled(&manifests.reload().updates);
    assert_eq!(again, ["apply default/web-0 10.0.0.1", "apply default/web-1 10.0.0.11"]);
    // Then nothing more to read.
    let report = manifests.reload();
    assert!(report.updates.is_empty() && !report.unsettled, "{:?}", spelled(&report.updates));
    // The same through an edit: b holds web-1 a while, then drops it.
    std::fs::write(&b, pods_file(&[("web-1", "10.0.0.12"), ("db-0", "10.0.1.1")], false)).unwrap();
    manifests.reload();
    std::fs::write(&b, pods_file(&[("db-0", "10.0.1.1")], true)).unwrap();
    assert!(manifests.reload().unsettled);
    assert!(spelled(&manifests.reload().updates).contains(&"apply default/web-1 10.0.0.11".to_owned()));
}

#[test]
fn a_file_emptied_while_it_held_objects_keeps_them_until_written_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("pods.yaml");
    std::fs::write(&a, pods_file(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.2")], false)).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(manifests.reload().updates.len(), 2);
    // What `echo > pods.yaml` leaves: the same, white space is no content.
    std::fs::write(&a, "\n").unwrap();
    let report = manifests.reload();
    assert!(report.updates.is_empty() && report.errors.len() == 1, "{:?}", spelled(&report.updates));
    std::fs::write(&a, pods_file(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.2")], false)).unwrap();
    assert!(manifests.reload().errors.is_empty());
    // Truncated (a `kubectl get ... > pods.yaml` that failed): an error, nothing deleted.
    std::fs::write(&a, "").unwrap();
    let report = manifests.reload();
    assert!(report.updates.is_empty(), "{:?}", spelled(&report.updates));
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("pods.yaml: the file is empty now (it held 2 objects"), "{errors:?}");
    assert!(manifests.reload().errors.is_empty(), "said once");
    // Written without objects on purpose: they go, and the file reads well again.
    std::fs::write(&a, "# nothing here for now\n").unwrap();
    let report = manifests.reload();
    assert_eq!(spelled(&report.updates), ["delete Pod default/web-0", "delete Pod default/web-1"]);
    assert_eq!(report.recovered, std::slice::from_ref(&a));
    // An empty file that held nothing is no error.
    std::fs::write(&a, "").unwrap();
    assert!(manifests.reload().errors.is_empty());
    // At startup nothing can be kept, but a blank file is said.
    let mut fresh = Manifests::new(vec![dir.path().to_owned()]);
    assert!(fresh.reload_into(100, &mut |_| {}).0.is_empty());
    assert_eq!(fresh.take_blank_at_start(), std::slice::from_ref(&a));
    assert!(fresh.take_blank_at_start().is_empty(), "once");
}

#[test]
fn a_rename_to_an_invalid_name_keeps_the_old_object_until_the_file_holds_no_refused_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("nginx.yaml");
    let file = |service: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {service}}}\nspec: {{clusterIP: None, selector: \
             {{app: nginx}}}}\n---\n{}",
            pod_document("web-0", ip)
        )
    };
    std::fs::write(&a, file("nginx", "10.0.0.1")).unwrap();
    let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
    assert_eq!(manifests.reload().updates.len(), 2);
    // Renamed with a typo the API server would refuse: the old Service stays, said once.
    std::fs::write(&a, file("Nginx", "10.0.0.1")).unwrap();
    let report = manifests.reload();
    assert_eq!(
        spelled(&report.updates),
        [format!("reject Service default/Nginx ({} (document 1))", a.display())]
    );
    let kept: Vec<String> = report.kept.iter().map(ToString::to_string).collect();
    assert_eq!(
        kept,
        [format!(
            "{}: keeping service default/nginx, which this version no longer defines, while it holds an \
             object that is refused (a rename gone wrong?); they go once the file holds no refused object",
            a.display()
        )]
    );
    // Another edit while the typo stays: still kept, not said again.
    std::fs::write(&a, file("Nginx", "10.0.0.2")).unwrap();
    let report = manifests.reload();
    assert_eq!(spelled(&report.updates), ["apply default/web-0 10.0.0.2"]);
    assert!(report.kept.is_empty());
    // A valid new name: the rename happens, the old Service goes (and the refused one's
    // refusal with it).
    std::fs::write(&a, file("nginx2", "10.0.0.2")).unwrap();
    let report = manifests.reload();
    assert_eq!(
        spelled(&report.updates),
        ["delete Service default/Nginx", "delete Service default/nginx", "apply Service default/nginx2"]
    );
    // A rename with a typo, then undone: the Service never goes (only the refusal).
    std::fs::write(&a, file("nginx_2", "10.0.0.2")).unwrap();
    assert_eq!(manifests.reload().kept.len(), 1);
    std::fs::write(&a, file("nginx2", "10.0.0.2")).unwrap();
    let report = manifests.reload();
    assert_eq!(spelled(&report.updates), ["delete Service default/nginx_2", "apply Service default/nginx2"]);
}
