//! Exposing ([`access`]: which tenants a web user sees): every view renders the store's [`crate::judge::DomainReport`]s. [`metrics`] the
//! Prometheus exposition, [`pages`] the status and domain pages, [`api`] the JSON API (both over
//! [`overview`]'s filters and order), [`runbooks`] docs/runbooks.md served at `/runbooks`, [`checklist`] the `check` command's text and JSON,
//! [`evidence`] the facts behind the verdicts as lines for the domain page and `check --verbose`, [`http`] the endpoints (with TLS and basic auth from
//! [`webconfig`]), [`server`] the process around them (listeners, signals, shutdown).

pub mod access;
pub mod api;
pub mod checklist;
pub mod evidence;
pub mod http;
pub mod metrics;
pub mod overview;
pub mod pages;
pub mod prefix;
pub mod runbooks;
pub mod server;
pub mod webconfig;
