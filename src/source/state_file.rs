//! The state file: the trimmed cluster state saved to disk, so a restarted server answers
//! from the last known state at once, before the API server does.
//!
//! Saved at most once a second, only when the zone changed, atomically (a temporary file
//! in the same directory, then rename), serialized off the index thread. A missing file is
//! normal (first start); a corrupt or unreadable one is logged and ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::Object;
use crate::index::IndexHandle;

/// The file's format version; a different one is ignored rather than misread.
const FORMAT: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct StateFile {
    format: u32,
    objects: Vec<Object>,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading or writing failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is not a state file we understand.
    #[error("state file {path} is corrupt or from another version ({message}); ignoring it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads the saved objects. `Ok(None)` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<Vec<Object>>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateFileError::Io { path: path.to_owned(), source }),
    };
    let corrupt = |message: String| StateFileError::Corrupt { path: path.to_owned(), message };
    let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.format != FORMAT {
        return Err(corrupt(format!("format {} instead of {FORMAT}", file.format)));
    }
    Ok(Some(file.objects))
}

/// Writes the objects atomically: readers see the old file or the new one, never half.
pub fn save(path: &Path, objects: Vec<Object>) -> Result<(), StateFileError> {
    let io = |source| StateFileError::Io { path: path.to_owned(), source };
    let bytes = serde_json::to_vec(&StateFile { format: FORMAT, objects })
        .map_err(|e| io(std::io::Error::other(e)))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Saves the state whenever the zone changed, at most once per `interval`, until the
/// index goes away. Failures (disk full, read-only) are logged once and retried.
pub async fn run(path: PathBuf, index: IndexHandle, interval: Duration) {
    let mut saved_serial = None;
    let mut failing = false;
    loop {
        tokio::time::sleep(interval).await;
        let Some((serial, synced, state)) =
            index.inspect(|i| (i.zones().serial(), i.zones().is_synced(), i.state().clone())).await
        else {
            return;
        };
        if !synced || saved_serial == Some(serial) {
            continue;
        }
        let target = path.clone();
        let result = tokio::task::spawn_blocking(move || save(&target, state.objects().collect())).await;
        match result {
            Ok(Ok(())) => {
                if failing {
                    tracing::info!(path = %path.display(), "state file written again");
                }
                failing = false;
                saved_serial = Some(serial);
            }
            Ok(Err(error)) => {
                if !failing {
                    tracing::error!(%error, "cannot save the state file; DNS is unaffected, retrying");
                }
                failing = true;
            }
            Err(error) => tracing::error!(%error, "state file task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Kind;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load(&path).unwrap().is_none());
        let object = Object::from_json(
            Kind::Service,
            serde_json::json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "None", "selector": {"a": "b"}}}),
        )
        .unwrap();
        save(&path, vec![object.clone()]).unwrap();
        assert_eq!(load(&path).unwrap().unwrap(), vec![object]);
        std::fs::write(&path, b"{\"format\": 1, \"objects\": [").unwrap();
        assert!(matches!(load(&path), Err(StateFileError::Corrupt { .. })));
        let err = save(&dir.path().join("missing/dir/state.json"), vec![]).unwrap_err();
        assert!(matches!(err, StateFileError::Io { .. }));
    }

    #[test]
    fn the_multicluster_kinds_round_trip() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let objects = vec![
            Object::from_json(
                Kind::ServiceImport,
                json!({"metadata": {"name": "db", "namespace": "data"},
                       "spec": {"type": "ClusterSetIP", "ips": ["10.42.0.1"], "ports": [{"name": "pg", "port": 5432}]}}),
            )
            .unwrap(),
            Object::from_json(Kind::ServiceExport, json!({"metadata": {"name": "db", "namespace": "data"}})).unwrap(),
            Object::from_json(Kind::ClusterProperty, json!({"metadata": {"name": "id.k8s.io"}, "spec": {"value": "east"}}))
                .unwrap(),
            Object::from_json(
                Kind::EndpointSlice,
                json!({"metadata": {"name": "db-west", "namespace": "data",
                                    "labels": {"multicluster.kubernetes.io/service-name": "db",
                                               "multicluster.kubernetes.io/source-cluster": "west"}},
                       "endpoints": [{"addresses": ["10.1.0.1"], "hostname": "db-0"}]}),
            )
            .unwrap(),
        ];
        assert_eq!(objects[3].kind(), Kind::McsEndpointSlice);
        save(&path, objects.clone()).unwrap();
        assert_eq!(load(&path).unwrap().unwrap(), objects);
    }

    #[test]
    fn external_specs_placements_and_nodes_round_trip_and_old_files_still_load() {
        use crate::cluster::{Placement, testing};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let objects = testing::objects(
            "apiVersion: v1
kind: Service
metadata:
  name: kafka
  namespace: data
  creationTimestamp: '2024-05-01T12:00:00Z'
  annotations:
    external-dns.alpha.kubernetes.io/hostname: kafka.example.com,*.bad.example.com
    external-dns.kubernetes.io/ttl: 1m
    external-dns.kubernetes.io/endpoints-type: NodeExternalIP
    external-dns.alpha.kubernetes.io/target: 203.0.113.1
spec: {type: LoadBalancer, clusterIP: 10.96.0.9, externalIPs: [198.51.100.1], ports: [{port: 9092, nodePort: 30092}]}
status: {loadBalancer: {ingress: [{ip: 203.0.113.7}, {hostname: lb.example.net}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: kafka-0, namespace: data}
spec: {nodeName: node-1}
status: {podIP: 10.0.0.1, hostIPs: [{ip: 192.0.2.1}, {ip: '2001:db8::1'}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {addresses: [{type: ExternalIP, address: 203.0.113.1}, {type: InternalIP, address: 192.0.2.1}]}
",
        );
        let Object::Service(service) = &objects[0] else { panic!("not a service") };
        let external = service.external.as_ref().expect("annotated");
        assert_eq!((external.ttl, external.problems().len(), external.node_ports().len()), (Some(60), 1, 1));
        save(&path, objects.clone()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"node_name\":\"node-1\""), "the placement as its parts, not its id: {text}");
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded, objects);
        let Object::Pod(pod) = &loaded[1] else { panic!("not a pod") };
        assert_eq!(pod.placement.node().as_deref(), Some("node-1"));
        assert_eq!(pod.placement.host_ips().len(), 2);
        // A file written before these were kept: no external spec, no placement.
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old["objects"].as_array_mut().unwrap().pop(); // the Node
        for object in old["objects"].as_array_mut().unwrap() {
            let fields =
                object.as_object_mut().unwrap().values_mut().next().unwrap().as_object_mut().unwrap();
            for field in ["external", "node_name", "host_ips"] {
                fields.remove(field);
            }
        }
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        let Object::Service(service) = &loaded[0] else { panic!("not a service") };
        assert!(service.external.is_none());
        let Object::Pod(pod) = &loaded[1] else { panic!("not a pod") };
        assert_eq!(pod.placement, Placement::NONE);
    }

    #[test]
    fn cluster_ip_external_name_and_pod_phase_round_trip_and_old_files_still_load() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let objects = vec![
            Object::from_json(
                Kind::Service,
                json!({"metadata": {"name": "a"}, "spec": {"clusterIPs": ["10.96.0.1", "fd00::1"]}}),
            )
            .unwrap(),
            Object::from_json(
                Kind::Service,
                json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.example"}}),
            )
            .unwrap(),
            Object::from_json(
                Kind::Pod,
                json!({"metadata": {"name": "p"}, "status": {"phase": "Failed", "podIP": "10.0.0.1"}}),
            )
            .unwrap(),
        ];
        save(&path, objects.clone()).unwrap();
        assert_eq!(load(&path).unwrap().unwrap(), objects);
        // A file written before these fields were kept: they take their defaults.
        let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for object in old["objects"].as_array_mut().unwrap() {
            let fields =
                object.as_object_mut().unwrap().values_mut().next().unwrap().as_object_mut().unwrap();
            for field in ["cluster_ips", "external_name", "phase"] {
                fields.remove(field);
            }
        }
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        let Object::Pod(pod) = &loaded[2] else { panic!("not a pod") };
        assert_eq!(pod.phase, crate::cluster::Phase::Unknown);
        let Object::Service(service) = &loaded[0] else { panic!("not a service") };
        assert!(service.cluster_ips.is_empty() && service.external_name.is_none());
    }
}
