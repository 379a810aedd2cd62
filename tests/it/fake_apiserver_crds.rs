//! The fake API server's custom resources (the Multi-Cluster Services kinds) and discovery,
//! checked with the real `kube` client as the server under test will use them: one stored
//! object served in either version, watches of namespaced and cluster-scoped kinds,
//! versions and groups that come and go with the installed CRDs, and the label selectors
//! that tell multi-cluster EndpointSlices from local ones.

use crate::support;

use std::time::Duration;

use axum::http::Request;
use futures::{Stream, StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use serde_json::{Value, json};
use support::fake_apiserver::FakeApiServer;

const MCS: &str = "multicluster.x-k8s.io";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn imports(version: &str) -> ApiResource {
    resource(MCS, version, "ServiceImport", "serviceimports")
}

fn cluster_properties() -> ApiResource {
    resource("about.k8s.io", "v1alpha1", "ClusterProperty", "clusterproperties")
}

fn slices() -> ApiResource {
    resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
}

fn client(api: &FakeApiServer) -> Client {
    let config = kube::Config::new(api.url().parse().expect("fake apiserver url"));
    Client::try_from(config).expect("kube client")
}

fn service_import(ns: &str, name: &str, api_version: &str, ip: &str) -> Value {
    json!({"apiVersion": api_version, "kind": "ServiceImport",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"type": "ClusterSetIP", "ips": [ip], "ports": [{"name": "pg", "protocol": "TCP", "port": 5432}]},
           "status": {"clusters": [{"cluster": "east"}]}})
}

fn slice(name: &str, labels: Value, ip: &str) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": name, "namespace": "default", "labels": labels},
           "addressType": "IPv4", "endpoints": [{"addresses": [ip]}]})
}

fn api_version(o: &DynamicObject) -> &str {
    o.types.as_ref().map(|t| t.api_version.as_str()).unwrap_or("")
}

/// `namespace/name apiVersion resourceVersion` of each object, in list order.
fn summary(items: &[DynamicObject]) -> Vec<String> {
    items
        .iter()
        .map(|o| {
            let m = &o.metadata;
            let ns = m.namespace.as_deref().unwrap_or("");
            let name = m.name.as_deref().unwrap_or("");
            format!("{ns}/{name} {} {}", api_version(o), m.resource_version.as_deref().unwrap_or(""))
        })
        .collect()
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// The next `n` watch events other than bookmarks, as (type, object); fails after 5 s.
async fn next_events(
    stream: &mut (impl Stream<Item = kube::Result<WatchEvent<DynamicObject>>> + Unpin),
    n: usize,
) -> Vec<(&'static str, DynamicObject)> {
    let mut out = Vec::new();
    while out.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no watch event after {} events", out.len()))
            .expect("watch stream ended")
            .expect("watch event");
        match ev {
            WatchEvent::Added(o) => out.push(("ADDED", o)),
            WatchEvent::Modified(o) => out.push(("MODIFIED", o)),
            WatchEvent::Deleted(o) => out.push(("DELETED", o)),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(s) => panic!("watch ERROR event: {s:?}"),
        }
    }
    out
}

/// `TYPE name` of each event.
fn names(events: &[(&'static str, DynamicObject)]) -> Vec<String> {
    events.iter().map(|(t, o)| format!("{t} {}", o.metadata.name.as_deref().unwrap_or(""))).collect()
}

#[tokio::test]
async fn service_imports_are_served_in_both_versions_from_one_storage() {
    let api = FakeApiServer::start().await;
    api.apply(service_import("default", "db", &format!("{MCS}/v1alpha1"), "10.1.0.1"));
    // Without apiVersion: stored as the preferred version.
    let mut web = service_import("other", "web", "", "10.1.0.2");
    web.as_object_mut().unwrap().remove("apiVersion");
    api.apply(web);
    assert_eq!(api.get("ServiceImport", "other", "web").unwrap()["apiVersion"], format!("{MCS}/v1beta1"));
    api.apply(json!({"kind": "ServiceExport", "metadata": {"name": "db", "namespace": "default"}}));
    let current = api.current_resource_version().to_string();
    let client = client(&api);

    let mut uids = Vec::new();
    for version in ["v1beta1", "v1alpha1"] {
        let gv = format!("{MCS}/{version}");
        let all = Api::<DynamicObject>::all_with(client.clone(), &imports(version));
        let list = all.list(&ListParams::default()).await.unwrap();
        assert_eq!(list.types.kind, "ServiceImportList");
        assert_eq!(list.types.api_version, gv);
        assert_eq!(list.metadata.resource_version.as_deref(), Some(current.as_str()));
        assert_eq!(summary(&list.items), [format!("default/db {gv} 1"), format!("other/web {gv} 2")]);
        // Paginated: the same objects, in the requested version on every page.
        let page = all.list(&ListParams::default().limit(1)).await.unwrap();
        let token = page.metadata.continue_.clone().expect("a continue token");
        let rest = all.list(&ListParams::default().limit(1).continue_token(&token)).await.unwrap();
        assert_eq!(summary(&[page.items, rest.items].concat()), summary(&list.items));

        let ns = Api::<DynamicObject>::namespaced_with(client.clone(), "default", &imports(version));
        let db = ns.get("db").await.unwrap();
        assert_eq!(api_version(&db), gv);
        assert_eq!(db.data["spec"]["ips"], json!(["10.1.0.1"]));
        assert_eq!(db.data["status"]["clusters"], json!([{"cluster": "east"}]));
        uids.push(db.metadata.uid.clone().unwrap());
        let missing = ns.get("web").await.unwrap_err();
        assert_eq!(status_code(&missing), Some(404), "{missing:?}");

        let exports = Api::<DynamicObject>::all_with(
            client.clone(),
            &resource(MCS, version, "ServiceExport", "serviceexports"),
        );
        let exports = exports.list(&ListParams::default()).await.unwrap();
        assert_eq!(summary(&exports.items), [format!("default/db {gv} 3")]);
    }
    assert_eq!(uids[0], uids[1], "one object, not one per version");
    // Serving never changes what is stored.
    assert_eq!(api.get("ServiceImport", "default", "db").unwrap()["apiVersion"], format!("{MCS}/v1alpha1"));
}

#[tokio::test]
async fn watches_see_changes_to_service_imports_and_cluster_properties() {
    let api = FakeApiServer::start().await;
    let client = client(&api);

    // ServiceImport, watched as v1alpha1 from a list's resourceVersion.
    let alpha = Api::<DynamicObject>::namespaced_with(client.clone(), "default", &imports("v1alpha1"));
    let rv = alpha.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = alpha.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    api.apply(service_import("default", "db", &format!("{MCS}/v1beta1"), "10.1.0.1"));
    api.apply(service_import("other", "elsewhere", &format!("{MCS}/v1beta1"), "10.1.0.9"));
    api.apply(service_import("default", "db", &format!("{MCS}/v1beta1"), "10.1.0.2"));
    assert!(api.delete("ServiceImport", "default", "db"));
    let events = next_events(&mut stream, 3).await;
    assert_eq!(names(&events), ["ADDED db", "MODIFIED db", "DELETED db"]);
    assert!(events.iter().all(|(_, o)| api_version(o) == format!("{MCS}/v1alpha1")), "{events:?}");
    assert_eq!(events[1].1.data["spec"]["ips"], json!(["10.1.0.2"]));

    // ClusterProperty: cluster-scoped, namespace ignored by the control API.
    let props = Api::<DynamicObject>::all_with(client.clone(), &cluster_properties());
    let mut stream = props.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    api.apply(json!({"apiVersion": "about.k8s.io/v1alpha1", "kind": "ClusterProperty",
                     "metadata": {"name": "id.k8s.io", "namespace": "ignored"}, "spec": {"value": "east"}}));
    api.apply(
        json!({"kind": "ClusterProperty", "metadata": {"name": "id.k8s.io"}, "spec": {"value": "west"}}),
    );
    assert_eq!(api.get("ClusterProperty", "whatever", "id.k8s.io").unwrap()["spec"]["value"], "west");
    assert!(api.delete("ClusterProperty", "whatever", "id.k8s.io"));
    let events = next_events(&mut stream, 3).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(events[0].1.metadata.namespace, None);
    assert_eq!(events[0].1.data["spec"]["value"], "east");
    assert_eq!(events[1].1.data["spec"]["value"], "west");

    // kube's watcher, as a server would run it: a streaming list (initial events in the
    // requested version, then the end bookmark), then live changes.
    api.apply(
        json!({"kind": "ClusterProperty", "metadata": {"name": "id.k8s.io"}, "spec": {"value": "north"}}),
    );
    let mut w = watcher(props, watcher::Config::default().streaming_lists()).boxed();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), w.try_next()).await.unwrap().unwrap().unwrap() {
            watcher::Event::InitApply(o) => seen.push(format!("init {}", o.data["spec"]["value"])),
            watcher::Event::InitDone if seen.is_empty() => panic!("InitDone before the stored object"),
            watcher::Event::InitDone => {
                api.apply(json!({"kind": "ClusterProperty", "metadata": {"name": "id.k8s.io"}, "spec": {"value": "south"}}));
            }
            watcher::Event::Apply(o) => seen.push(format!("apply {}", o.data["spec"]["value"])),
            _ => {}
        }
    }
    assert_eq!(seen, ["init \"north\"", "apply \"south\""]);
    assert_eq!(api.initial_streams_sent(), 1);
}

#[tokio::test]
async fn discovery_follows_the_installed_crd_versions() {
    let api = FakeApiServer::start().await;
    api.apply(service_import("default", "db", &format!("{MCS}/v1beta1"), "10.1.0.1"));
    let client = client(&api);

    // Everything installed: both versions, v1beta1 preferred.
    let groups = client.list_api_groups().await.unwrap();
    let mcs = groups.groups.iter().find(|g| g.name == MCS).expect("the MCS group in /apis");
    let versions: Vec<&str> = mcs.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["v1beta1", "v1alpha1"]);
    assert_eq!(mcs.preferred_version.as_ref().unwrap().group_version, format!("{MCS}/v1beta1"));
    assert!(groups.groups.iter().any(|g| g.name == "about.k8s.io"));
    assert!(groups.groups.iter().any(|g| g.name == "apps"));
    let resources = client.list_api_group_resources(&format!("{MCS}/v1beta1")).await.unwrap();
    assert_eq!(resources.group_version, format!("{MCS}/v1beta1"));
    let names: Vec<(&str, &str, bool)> =
        resources.resources.iter().map(|r| (r.name.as_str(), r.kind.as_str(), r.namespaced)).collect();
    assert_eq!(names, [("serviceimports", "ServiceImport", true), ("serviceexports", "ServiceExport", true)]);
    assert_eq!(resources.resources[0].singular_name, "serviceimport");
    assert_eq!(resources.resources[0].verbs, ["get", "list", "watch"]);
    let core = client.list_core_api_resources("v1").await.unwrap();
    assert!(core.resources.iter().any(|r| r.name == "pods" && r.kind == "Pod" && r.namespaced));
    assert!(core.resources.iter().any(|r| r.name == "namespaces" && !r.namespaced));
    let not_served =
        client.request_text(Request::get("/apis/nope.example.com/v1").body(vec![]).unwrap()).await;
    assert_eq!(status_code(&not_served.unwrap_err()), Some(404));

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let group = discovery.get(MCS).expect("discovered MCS group");
    assert_eq!(group.preferred_version_or_latest(), "v1beta1");
    let (ar, caps) = group.recommended_kind("ServiceImport").unwrap();
    assert_eq!((ar.version.as_str(), caps.scope), ("v1beta1", Scope::Namespaced));
    let (ar, caps) = discovery.get("about.k8s.io").unwrap().recommended_kind("ClusterProperty").unwrap();
    assert_eq!((ar.plural.as_str(), caps.scope), ("clusterproperties", Scope::Cluster));
    assert!(discovery.get("").unwrap().recommended_kind("Pod").is_some());

    // An older MCS controller: only v1alpha1.
    api.set_mcs_versions(&["v1alpha1"]);
    let beta = Api::<DynamicObject>::all_with(client.clone(), &imports("v1beta1"));
    assert_eq!(status_code(&beta.list(&ListParams::default()).await.unwrap_err()), Some(404));
    let alpha = Api::<DynamicObject>::all_with(client.clone(), &imports("v1alpha1"));
    assert_eq!(alpha.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let err = client.list_api_group_resources(&format!("{MCS}/v1beta1")).await.unwrap_err();
    assert_eq!(status_code(&err), Some(404));
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let group = discovery.get(MCS).expect("discovered MCS group");
    assert_eq!(group.versions().collect::<Vec<_>>(), ["v1alpha1"]);
    assert_eq!(group.preferred_version_or_latest(), "v1alpha1");
    let (ar, _) = group.recommended_kind("ServiceImport").unwrap();
    assert_eq!(ar.api_version, format!("{MCS}/v1alpha1"));

    // No MCS CRDs, no ClusterProperty CRD: the groups are gone, discovery still works.
    api.set_mcs_versions(&[]);
    api.set_cluster_properties_served(false);
    let groups = client.list_api_groups().await.unwrap();
    let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["apps", "discovery.k8s.io"]);
    assert_eq!(status_code(&alpha.list(&ListParams::default()).await.unwrap_err()), Some(404));
    let props = Api::<DynamicObject>::all_with(client.clone(), &cluster_properties());
    assert_eq!(status_code(&props.list(&ListParams::default()).await.unwrap_err()), Some(404));
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    assert!(!discovery.has_group(MCS) && !discovery.has_group("about.k8s.io"));
    assert!(discovery.has_group("apps"));

    // Installed again: the stored object is still there.
    api.set_mcs_versions(&["v1beta1", "v1alpha1"]);
    let items = beta.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(summary(&items), [format!("default/db {MCS}/v1beta1 1")]);
}

#[tokio::test]
async fn multicluster_endpoint_slices_are_told_apart_by_label_in_list_and_watch() {
    let api = FakeApiServer::start().await;
    api.apply(slice("local-a", json!({"kubernetes.io/service-name": "db"}), "10.0.0.1"));
    api.apply(slice(
        "mcs-a",
        json!({"multicluster.kubernetes.io/service-name": "db", "multicluster.kubernetes.io/source-cluster": "east"}),
        "10.2.0.1",
    ));
    let client = client(&api);
    let slices = Api::<DynamicObject>::namespaced_with(client, "default", &slices());
    let listed = |sel: &'static str| {
        let slices = slices.clone();
        async move {
            let list = slices.list(&ListParams::default().labels(sel)).await.unwrap();
            list.items.into_iter().map(|o| o.metadata.name.unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("!multicluster.kubernetes.io/service-name").await, ["local-a"]);
    assert_eq!(listed("multicluster.kubernetes.io/service-name").await, ["mcs-a"]);
    assert_eq!(listed("multicluster.kubernetes.io/service-name=db").await, ["mcs-a"]);

    let rv = api.current_resource_version().to_string();
    let local = WatchParams::default().labels("!multicluster.kubernetes.io/service-name");
    let mcs = WatchParams::default().labels("multicluster.kubernetes.io/service-name");
    let mut local = slices.watch(&local, &rv).await.unwrap().boxed();
    let mut mcs = slices.watch(&mcs, &rv).await.unwrap().boxed();
    api.apply(slice("mcs-b", json!({"multicluster.kubernetes.io/service-name": "db"}), "10.2.0.2"));
    api.apply(slice("local-b", json!({"kubernetes.io/service-name": "db"}), "10.0.0.2"));
    // local-a gains the label: it leaves the local watch and enters the MCS one.
    api.apply(slice("local-a", json!({"multicluster.kubernetes.io/service-name": "db"}), "10.0.0.1"));
    assert!(api.delete("EndpointSlice", "default", "mcs-a"));
    assert_eq!(names(&next_events(&mut local, 2).await), ["ADDED local-b", "DELETED local-a"]);
    assert_eq!(names(&next_events(&mut mcs, 3).await), ["ADDED mcs-b", "ADDED local-a", "DELETED mcs-a"]);
}

#[tokio::test]
async fn fault_controls_apply_to_custom_resources() {
    let api = FakeApiServer::start().await;
    api.apply(service_import("default", "db", &format!("{MCS}/v1beta1"), "10.1.0.1"));
    let client = client(&api);
    let imports = Api::<DynamicObject>::all_with(client.clone(), &imports("v1alpha1"));

    api.set_forbidden("serviceimports", true);
    assert_eq!(status_code(&imports.list(&ListParams::default()).await.unwrap_err()), Some(403));
    api.set_forbidden("serviceimports", false);
    api.set_fail_with_500(true);
    assert_eq!(status_code(&imports.list(&ListParams::default()).await.unwrap_err()), Some(500));
    api.set_fail_with_500(false);

    // A watch from a compacted resourceVersion: one ERROR event with 410.
    let old = api.current_resource_version().to_string();
    api.apply(service_import("default", "db", &format!("{MCS}/v1beta1"), "10.1.0.2"));
    api.expire_history();
    let mut stream = imports.watch(&WatchParams::default(), &old).await.unwrap().boxed();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap() {
        Some(Ok(WatchEvent::Error(s))) => assert_eq!(s.code, 410, "{s:?}"),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // A dropped watch ends the stream; bookmarks come in the watched version.
    let rv = api.current_resource_version().to_string();
    let mut stream = imports.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    tokio::time::timeout(Duration::from_secs(5), async {
        while api.open_watches() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    api.send_bookmarks();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap() {
        Some(Ok(WatchEvent::Bookmark(b))) => {
            assert_eq!(b.types.api_version, format!("{MCS}/v1alpha1"));
            assert_eq!(b.metadata.resource_version, rv);
        }
        other => panic!("expected a bookmark, got {other:?}"),
    }
    api.drop_watches();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(WatchEvent::Bookmark(_))) => {}
                Some(Ok(other)) => panic!("unexpected event {other:?}"),
            }
        }
    });
    end.await.expect("the dropped watch ends");
}
