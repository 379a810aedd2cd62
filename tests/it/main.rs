//! The integration tests, in one binary: over real sockets, with real peers, the fake API
//! server, the deploy manifests and the docs' examples. One binary links the dependency graph
//! once, where forty took 12 GiB of disk and most of the build's time (docs/development.md).

mod support;

mod admin_access;
mod api_faults;
mod behind_resolver;
mod cluster_domain;
mod deploy_components;
mod deploy_coredns;
mod deploy_deployment;
mod deploy_external_zone;
mod deploy_manifests;
mod deploy_rbac_kustomize;
mod deploy_sidecar;
mod dns_server;
mod docs_examples;
mod explain_external;
mod explain_records;
mod external_secondaries;
mod external_zones;
mod fake_apiserver_crds;
mod forwarding;
mod hardening;
mod ixfr_property;
mod kubernetes;
mod kubernetes_nodes;
mod manifests_reload;
mod manifests_watch;
mod messages;
mod module_graph;
mod monitoring;
mod multicluster;
mod operations;
mod option_reference;
mod peer_discovery;
mod pending_behind_secondaries;
mod response_cache;
mod secondaries;
mod serials;
mod streaming_list;
mod tcp_path;
mod transfers;
