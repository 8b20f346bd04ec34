//! The render-time benchmark of issue 30 (not a test: `#[ignore]`d, run by hand in release):
//! 10,000 domains in 100 tenants (2 own domains, 98 partners each; every own domain's second
//! address refuses TCP, so every partner's inbound verdict is decided by its tenant's own side),
//! recorded into a store, then `/metrics` and the status page rendered. docs/performance.md
//! quotes it:
//!
//!   cargo test --release --lib store::bench_verdicts -- --ignored --nocapture

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Setup, Store};
use crate::config::{Config, Selection};
use crate::facts::Facts;

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[test]
#[ignore]
fn render_10000_domains_in_100_tenants() {
    let mut yaml =
        String::from("vantages:\n  inside:\n    resolvers: [\"127.0.0.1:9\"]\ndomains:\n");
    for t in 0..100 {
        for i in 0..100 {
            if i < 2 {
                yaml.push_str(&format!(
                    "  - {{domain: own{i}.t{t}.example, tenant: t{t}, role: own, fqdn: sip.example.com}}\n"
                ));
            } else {
                yaml.push_str(&format!(
                    "  - {{domain: p{i}.t{t}.example, tenant: t{t}}}\n"
                ));
            }
        }
    }
    let config = Config::parse(std::path::Path::new("bench.yml"), &yaml).expect("config");
    let store = Store::new(
        Setup::new(config).expect("setup"),
        None,
        Selection::default(),
    );
    let setup = store.setup();
    let facts = Arc::new(Facts::two_endpoints());
    let started = Instant::now();
    for d in &setup.config.domains {
        store.record(d, "inside", facts.clone());
    }
    let recording = started.elapsed();
    // Recording one own domain again: its tenant's own side and 98 partners' verdicts.
    let own = &setup.config.domains[0];
    let mut own_records = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        store.record(own, "inside", facts.clone());
        own_records.push(t.elapsed());
    }
    let mut scrapes = Vec::new();
    let mut size = 0;
    for _ in 0..15 {
        let t = Instant::now();
        size = crate::expose::metrics::render(&store).len();
        scrapes.push(t.elapsed());
    }
    let mut pages = Vec::new();
    let mut page_size = 0;
    let query = std::collections::HashMap::new();
    for _ in 0..15 {
        let t = Instant::now();
        let rows = crate::expose::overview::rows(&setup.config, &store);
        let filter = crate::expose::overview::Filter::from_query(&query).expect("filter");
        let page = crate::expose::overview::Page::from_query(&query);
        page_size = crate::expose::pages::render_status(&rows, &filter, page, 0).len();
        pages.push(t.elapsed());
    }
    println!(
        "10000 domains/100 tenants: record all {recording:?}; re-record an own domain median {:?}; /metrics median {:?} of 15 ({size} bytes); status page median {:?} of 15 ({page_size} bytes)",
        median(own_records),
        median(scrapes),
        median(pages)
    );
}
