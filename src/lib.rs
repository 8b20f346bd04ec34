//! sipfed_exporter: a Prometheus exporter for SIP federation health.
//!
//! What happens to a domain, from configuration to `/metrics`:
//!
//! - [`config`]: strict YAML decoding and validation of domains, vantages and settings.
//! - [`scheduler`]: probes every (domain, vantage) once per interval, keeps the latest results.
//! - [`probe`]: gathering, all network I/O of one probe under one deadline, producing [`facts`]:
//!   [`dns`] (SRV, A/AAAA, CNAME per resolver), [`authoritative`] (every name server's copy), [`m365`] (Microsoft 365 evidence),
//!   [`tls`] (handshake that keeps any presented chain), [`cert`] (parsing, name rules),
//!   [`sip`] (OPTIONS over the TLS connection), [`socks`] (a vantage's proxy).
//! - [`checks`]: judging, pure functions from facts to findings (SPEC §5); [`compare`]
//!   explains differences between vantages.
//! - [`metrics`]: renders findings and facts at scrape time; [`http`] serves them, the status
//!   page and `/probe`, with TLS and basic auth from [`webconfig`].
//! - [`checklist`]: the one-shot `check` command; [`demo`] runs the exporter on the [`lab`],
//!   an in-process federation world on loopback used by tests and benchmarks too.

pub mod authoritative;
pub mod cert;
pub mod checklist;
pub mod checks;
pub mod compare;
pub mod config;
pub mod demo;
pub mod dns;
pub mod error;
pub mod facts;
pub mod http;
pub mod lab;
pub mod logging;
pub mod m365;
pub mod metrics;
pub mod probe;
pub mod scheduler;
pub mod server;
pub mod sip;
pub mod socks;
pub mod tls;
pub mod webconfig;
