//! Test support: cluster objects and states from YAML documents, read by the objects' own
//! deserializer (as every source reads them), for the unit tests of the layers that read
//! the cluster state (the zone, explain) without the sources or the index.

use serde::Deserialize;

use super::{ClusterState, Kind, Object};

/// The objects of a multi-document YAML text; other kinds are left out. Panics on a
/// document that does not parse or an object that is not valid.
pub fn objects(yaml: &str) -> Vec<Object> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| serde_json::Value::deserialize(document).expect("a YAML document"))
        .filter(|value| !value.is_null())
        .filter_map(Object::from_document)
        .map(|object| object.expect("a valid test object"))
        .collect()
}

/// The cluster state of a multi-document YAML text.
pub fn state(yaml: &str) -> ClusterState {
    let objects = objects(yaml);
    let mut state = ClusterState::new();
    for kind in Kind::ALL {
        state.reset(kind, objects.iter().filter(|o| o.kind() == kind).cloned());
    }
    state
}
