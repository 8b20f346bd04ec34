//! sipfed_exporter: a Prometheus exporter for SIP federation health.
//!
//! What happens to a domain, from configuration to `/metrics`:
//!
//! - [`config`]: strict YAML decoding and validation of domains, vantages and settings
//!   (schema, decoding with positions, normalising, validation, `--vantage`/`--shard`).
//! - [`gather`]: all network I/O of one probe under one deadline, producing [`facts`].
//! - [`judge`]: pure functions from facts to findings (SPEC §5), and the one function that
//!   judges a domain from the facts of all its vantages into a report.
//! - [`store`]: the latest facts and report of every domain; its [`store::scheduler`] runs
//!   the probes, [`store::check`] the one-shot `check`, and [`store::lookup`] finds a
//!   configured domain or makes the ad-hoc peer the views ask about.
//! - [`expose`]: `/metrics` (one writer per family group), the pages, `/probe`, the JSON API
//!   and the `check` command, all rendering reports; `--web.config.file` (TLS, client
//!   certificates, basic auth).
//! - [`pem`] reads certificates, keys and trust anchors; [`shard`] is the stable hash of
//!   sharding and schedules; [`error`] the library's error. `config` imports only these three,
//!   so no module imports one that imports it back.
//! - [`lab`] (cargo feature `lab`): an in-process federation world on loopback for the demo,
//!   tests and benchmarks; not part of a production build.

pub mod config;
pub mod error;
pub mod expose;
pub mod facts;
pub mod gather;
pub mod judge;
#[cfg(feature = "lab")]
pub mod lab;
pub mod logging;
pub mod pem;
pub mod shard;
pub mod store;
