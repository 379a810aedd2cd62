//! The trimmed [`StatefulSet`] and its wire form.

use serde::Deserialize;

use super::{Kind, MetaWire, ObjectError, ObjectKey};
use crate::cluster::SharedStr;

/// A StatefulSet, trimmed to the identities it owns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatefulSet {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `spec.serviceName`: the governing headless service.
    pub service_name: SharedStr,
    /// `spec.replicas` (default 1).
    pub replicas: u32,
    /// `spec.ordinals.start` (default 0).
    pub ordinal_start: u32,
}

/// A StatefulSet as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatefulSetWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<StatefulSetSpecWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StatefulSetSpecWire {
    service_name: Option<String>,
    replicas: Option<i64>,
    ordinals: Option<OrdinalsWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct OrdinalsWire {
    start: Option<i64>,
}

impl StatefulSetWire {
    /// Validates the wire form into a [`StatefulSet`].
    pub fn into_statefulset(self) -> Result<StatefulSet, ObjectError> {
        let key = self.metadata.key(Kind::StatefulSet)?;
        let name = key.to_string();
        let spec = self.spec.ok_or_else(|| ObjectError::MissingField {
            kind: "StatefulSet",
            name: name.clone(),
            field: "spec",
        })?;
        let service_name = spec.service_name.filter(|s| !s.is_empty()).ok_or_else(|| {
            ObjectError::MissingField { kind: "StatefulSet", name: name.clone(), field: "spec.serviceName" }
        })?;
        let count = |field: &'static str, value: Option<i64>, default: u32| {
            value.map_or(Ok(default), |v| {
                u32::try_from(v).map_err(|_| ObjectError::InvalidField {
                    kind: "StatefulSet",
                    name: name.clone(),
                    field,
                    value: v.to_string(),
                })
            })
        };
        Ok(StatefulSet {
            service_name: service_name.into(),
            replicas: count("spec.replicas", spec.replicas, 1)?,
            ordinal_start: count("spec.ordinals.start", spec.ordinals.and_then(|o| o.start), 0)?,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::{Kind, Object};
    use serde_json::json;
    use std::sync::Arc;
    #[test]
    fn statefulset_defaults() {
        let sts = Object::from_json(
            Kind::StatefulSet,
            json!({"metadata": {"name": "web"}, "spec": {"serviceName": "nginx"}}),
        )
        .unwrap();
        assert_eq!(
            sts,
            Object::StatefulSet(Arc::new(StatefulSet {
                key: ObjectKey { namespace: "default".into(), name: "web".into() },
                service_name: "nginx".into(),
                replicas: 1,
                ordinal_start: 0,
            }))
        );
    }
}
