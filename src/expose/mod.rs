//! Exposing: every view renders the store's [`crate::judge::DomainReport`]s. [`metrics`] the
//! Prometheus exposition, [`pages`] the status and domain pages, [`checklist`] the `check`
//! command's text and JSON, [`http`] the endpoints (with TLS and basic auth from
//! [`webconfig`]), [`server`] the process around them (listeners, signals, shutdown).

pub mod checklist;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod server;
pub mod webconfig;
