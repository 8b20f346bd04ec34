//! The fleet at a glance, shared by the status page and `/api/v1/domains`: every configured
//! domain with its latest report (or none yet), the filters (`state`, `tenant`, `q`), the
//! summary counts and the order (failing, warning, unknown, pending, ok; configuration order
//! within).

use std::collections::HashMap;
use std::sync::Arc;

use super::access::Sight;
use crate::config::{Config, Domain};
use crate::judge::pairs::Pair;
use crate::judge::{DomainReport, State};
use crate::store::{DomainKey, Store};

/// Rows per page of the status page.
pub const PAGE_SIZE: usize = 500;

/// Where a domain stands: its report's state, or pending before its first report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    Failing,
    Warning,
    /// A report, but the exporter could not look (its own trouble): not ok.
    Unknown,
    Pending,
    Ok,
}

impl Standing {
    pub const ALL: [Standing; 5] = [
        Standing::Failing,
        Standing::Warning,
        Standing::Unknown,
        Standing::Pending,
        Standing::Ok,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Failing => "failing",
            Standing::Warning => "warning",
            Standing::Unknown => "unknown",
            Standing::Pending => "pending",
            Standing::Ok => "ok",
        }
    }

    pub fn parse(s: &str) -> Option<Standing> {
        Standing::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn of(report: Option<&DomainReport>) -> Standing {
        match report.map(|r| r.state) {
            None => Standing::Pending,
            Some(State::Failing) => Standing::Failing,
            Some(State::Warning) => Standing::Warning,
            Some(State::Unknown) => Standing::Unknown,
            Some(State::Ok) => Standing::Ok,
        }
    }
}

/// One configured domain and its latest report.
#[derive(Clone)]
pub struct Row<'a> {
    pub domain: &'a Domain,
    pub report: Option<Arc<DomainReport>>,
    /// A partner's pair verdicts (both directions per vantage); empty for own domains.
    /// The partner's verdicts as the store decided them.
    pub pairs: Arc<[Pair]>,
}

impl Row<'_> {
    pub fn standing(&self) -> Standing {
        Standing::of(self.report.as_deref())
    }

    /// Whether some direction of federation with this partner is not ready.
    pub fn not_ready(&self) -> bool {
        self.pairs.iter().any(|p| !p.readiness.ready)
    }
}

/// The configured domains of the tenants `sight` sees, with their latest reports.
pub fn rows_seen<'a>(config: &'a Config, store: &Store, sight: &Sight) -> Vec<Row<'a>> {
    if sight.all() {
        return rows(config, store);
    }
    config
        .domains
        .iter()
        .filter(|d| sight.sees(&d.tenant))
        .map(|d| row(d, store))
        .collect()
}

/// Every configured domain with its latest report, in configuration order.
pub fn rows<'a>(config: &'a Config, store: &Store) -> Vec<Row<'a>> {
    config.domains.iter().map(|d| row(d, store)).collect()
}

fn row<'a>(d: &'a Domain, store: &Store) -> Row<'a> {
    let (report, pairs) = match store.report_judged(&DomainKey::of(d)) {
        Some((r, v)) => (Some(r), v),
        None => (None, Arc::from(Vec::new())),
    };
    Row {
        domain: d,
        pairs,
        report,
    }
}

/// Which rows to show, from the query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub state: Option<Standing>,
    pub tenant: Option<String>,
    /// Case-insensitive substring of the domain name.
    pub q: Option<String>,
    /// `federation=not_ready`: only partners with a direction of federation not ready.
    pub not_ready: bool,
}

impl Filter {
    /// Reads `state`, `tenant` and `q`; empty values mean no filter. An unknown state is an
    /// error naming the values allowed.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Filter, String> {
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let state = match get("state") {
            None => None,
            Some(s) => Some(Standing::parse(s).ok_or_else(|| {
                format!("unknown state {s:?}: use ok, warning, failing, unknown or pending")
            })?),
        };
        let not_ready = match get("federation") {
            None => false,
            Some("not_ready") => true,
            Some(f) => return Err(format!("unknown federation filter {f:?}: use not_ready")),
        };
        Ok(Filter {
            state,
            tenant: get("tenant").map(str::to_string),
            q: get("q").map(str::to_ascii_lowercase),
            not_ready,
        })
    }

    pub fn matches(&self, row: &Row<'_>) -> bool {
        self.state.is_none_or(|s| row.standing() == s)
            && self.tenant.as_ref().is_none_or(|t| &row.domain.tenant == t)
            && self.q.as_ref().is_none_or(|q| row.domain.name.contains(q))
            && (!self.not_ready || row.not_ready())
    }

    /// The query string for these filters plus `extra` pairs (`state=failing&tenant=acme`).
    pub fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = self.state {
            pairs.push(("state", s.as_str()));
        }
        if let Some(t) = &self.tenant {
            pairs.push(("tenant", t));
        }
        if let Some(q) = &self.q {
            pairs.push(("q", q));
        }
        if self.not_ready {
            pairs.push(("federation", "not_ready"));
        }
        pairs.extend_from_slice(extra);
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The rows that match, worst first, configuration order within a standing.
pub fn select<'r, 'a>(rows: &'r [Row<'a>], filter: &Filter) -> Vec<&'r Row<'a>> {
    let mut out: Vec<&Row> = rows.iter().filter(|r| filter.matches(r)).collect();
    out.sort_by_key(|r| r.standing());
    out
}

/// How many domains stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub failing: usize,
    pub warning: usize,
    pub unknown: usize,
    pub pending: usize,
    pub ok: usize,
}

impl Counts {
    pub fn get(&self, s: Standing) -> usize {
        match s {
            Standing::Failing => self.failing,
            Standing::Warning => self.warning,
            Standing::Unknown => self.unknown,
            Standing::Pending => self.pending,
            Standing::Ok => self.ok,
        }
    }

    fn add(&mut self, s: Standing) {
        match s {
            Standing::Failing => self.failing += 1,
            Standing::Warning => self.warning += 1,
            Standing::Unknown => self.unknown += 1,
            Standing::Pending => self.pending += 1,
            Standing::Ok => self.ok += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.failing + self.warning + self.unknown + self.pending + self.ok
    }
}

/// Counts over all rows and per tenant (tenants in order of first appearance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub all: Counts,
    pub tenants: Vec<(String, Counts)>,
}

pub fn summary(rows: &[Row<'_>]) -> Summary {
    let mut s = Summary::default();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        let standing = r.standing();
        s.all.add(standing);
        let i = *index.entry(r.domain.tenant.as_str()).or_insert_with(|| {
            s.tenants.push((r.domain.tenant.clone(), Counts::default()));
            s.tenants.len() - 1
        });
        s.tenants[i].1.add(standing);
    }
    s
}

/// Which page of the selection to show: a number from 1, or all rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Number(usize),
    All,
}

impl Page {
    /// `page=all`, `page=N` (from 1); anything else is the first page.
    pub fn from_query(q: &HashMap<String, String>) -> Page {
        match q.get("page").map(|s| s.trim()) {
            Some("all") => Page::All,
            Some(n) => Page::Number(n.parse().unwrap_or(1).max(1)),
            None => Page::Number(1),
        }
    }

    /// The slice of `items` on this page (empty past the end).
    pub fn slice<T>(self, items: &[T]) -> &[T] {
        match self {
            Page::All => items,
            Page::Number(n) => {
                let start = (n - 1).saturating_mul(PAGE_SIZE).min(items.len());
                let end = start.saturating_add(PAGE_SIZE).min(items.len());
                &items[start..end]
            }
        }
    }

    /// How many pages `len` rows fill (at least one).
    pub fn count(len: usize) -> usize {
        len.div_ceil(PAGE_SIZE).max(1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Federation, Role};
    use crate::facts::Facts;
    use crate::judge::{Finding, Severity, VantageReport};

    pub(crate) fn domain(tenant: &str, name: &str) -> Domain {
        Domain {
            tenant: tenant.into(),
            ..Domain::peer(name.into(), vec!["inside".into()])
        }
    }

    pub(crate) fn report(d: &Domain, state: State) -> Arc<DomainReport> {
        let failing = |check, severity| Finding {
            check,
            severity,
            passed: false,
            reason: Some(crate::facts::Reason::Timeout),
            message: "m".into(),
            hint: "h".into(),
            owner: Some(crate::judge::Owner::Partner),
        };
        let findings = match state {
            State::Failing => vec![failing(
                crate::judge::CheckName::TcpConnect,
                Severity::Critical,
            )],
            State::Warning => vec![failing(
                crate::judge::CheckName::CertExpiry,
                Severity::Warning,
            )],
            State::Ok | State::Unknown => vec![],
        };
        Arc::new(DomainReport {
            tenant: d.tenant.clone(),
            domain: d.name.clone(),
            role: Role::Peer,
            federation: Federation::Open,
            vantages: vec![VantageReport {
                vantage: "inside".into(),
                public: false,
                findings,
                success: matches!(state, State::Ok | State::Warning),
                state,
                blind: (state == State::Unknown).then_some(crate::facts::Blind::ResolversDown),
                details: Default::default(),
                facts: Arc::new(Facts::default()),
            }],
            split_horizon: None,
            state,
        })
    }

    /// a: ok, b: failing, c: pending, d: warning (tenant acme); e: failing, f: ok (tenant beta).
    fn fleet() -> Vec<(Domain, Option<State>)> {
        vec![
            (domain("acme", "a.example"), Some(State::Ok)),
            (domain("acme", "b.example"), Some(State::Failing)),
            (domain("acme", "c.example"), None),
            (domain("acme", "d.example"), Some(State::Warning)),
            (domain("beta", "e.test"), Some(State::Failing)),
            (domain("beta", "f.test"), Some(State::Ok)),
        ]
    }

    fn rows_of(f: &[(Domain, Option<State>)]) -> Vec<Row<'_>> {
        f.iter()
            .map(|(d, s)| Row {
                domain: d,
                report: s.map(|s| report(d, s)),
                pairs: Arc::from(Vec::new()),
            })
            .collect()
    }

    fn names(rows: &[&Row<'_>]) -> Vec<String> {
        rows.iter().map(|r| r.domain.name.clone()).collect()
    }

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn worst_first_then_configuration_order() {
        let f = fleet();
        let rows = rows_of(&f);
        assert_eq!(
            names(&select(&rows, &Filter::default())),
            [
                "b.example",
                "e.test",
                "d.example",
                "c.example",
                "a.example",
                "f.test"
            ]
        );
    }

    #[test]
    fn filters_select_exactly() {
        let f = fleet();
        let rows = rows_of(&f);
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[("state", "failing")], &["b.example", "e.test"]),
            (&[("state", "ok")], &["a.example", "f.test"]),
            (&[("state", "warning")], &["d.example"]),
            (&[("state", "pending")], &["c.example"]),
            (&[("tenant", "beta")], &["e.test", "f.test"]),
            (&[("tenant", "acme"), ("state", "failing")], &["b.example"]),
            (&[("q", "TEST")], &["e.test", "f.test"]),
            (
                &[("q", ".ex")],
                &["b.example", "d.example", "c.example", "a.example"],
            ),
            (&[("q", ".te"), ("state", "ok")], &["f.test"]),
            (
                &[("state", ""), ("tenant", "")],
                &[
                    "b.example",
                    "e.test",
                    "d.example",
                    "c.example",
                    "a.example",
                    "f.test",
                ],
            ),
            (&[("tenant", "nobody")], &[]),
        ];
        for (q, want) in cases {
            let filter = Filter::from_query(&query(q)).unwrap();
            assert_eq!(names(&select(&rows, &filter)), *want, "{q:?}");
        }
        assert_eq!(
            Filter::from_query(&query(&[("state", "broken")])).unwrap_err(),
            "unknown state \"broken\": use ok, warning, failing, unknown or pending"
        );
    }

    /// A domain no vantage could look at stands `unknown`: never counted or listed as ok,
    /// after the warnings and before the pending ones.
    #[test]
    fn a_domain_that_could_not_be_looked_at_is_unknown() {
        let mut f = fleet();
        f.push((domain("beta", "g.test"), Some(State::Unknown)));
        let rows = rows_of(&f);
        let filter = Filter::from_query(&query(&[("state", "unknown")])).unwrap();
        assert_eq!(names(&select(&rows, &filter)), ["g.test"]);
        let ok = Filter::from_query(&query(&[("state", "ok")])).unwrap();
        assert_eq!(names(&select(&rows, &ok)), ["a.example", "f.test"]);
        let all = names(&select(&rows, &Filter::default()));
        assert_eq!(all[3..5], ["g.test", "c.example"]);
        let s = summary(&rows);
        assert_eq!((s.all.unknown, s.all.ok), (1, 2));
    }

    #[test]
    fn summary_counts_per_tenant() {
        let f = fleet();
        let s = summary(&rows_of(&f));
        assert_eq!(
            s.all,
            Counts {
                failing: 2,
                warning: 1,
                unknown: 0,
                pending: 1,
                ok: 2
            }
        );
        assert_eq!(s.all.total(), 6);
        let tenants: Vec<(&str, usize, usize)> = s
            .tenants
            .iter()
            .map(|(t, c)| (t.as_str(), c.failing, c.ok))
            .collect();
        assert_eq!(tenants, [("acme", 1, 1), ("beta", 1, 1)]);
    }

    #[test]
    fn the_not_ready_filter_keeps_partners_with_a_direction_not_ready() {
        use crate::judge::pairs::{Direction, Pair, Readiness};
        let f = fleet();
        let mut rows = rows_of(&f);
        let verdict = |direction, ready| Pair {
            vantage: "inside".into(),
            direction,
            readiness: Readiness {
                ready,
                reason: None,
                check: None,
                message: String::new(),
                hint: String::new(),
            },
        };
        rows[0].pairs = Arc::from(vec![
            verdict(Direction::Outbound, true),
            verdict(Direction::Inbound, false),
        ]);
        rows[5].pairs = Arc::from(vec![
            verdict(Direction::Outbound, true),
            verdict(Direction::Inbound, true),
        ]);
        let filter = Filter::from_query(&query(&[("federation", "not_ready")])).unwrap();
        assert_eq!(names(&select(&rows, &filter)), ["a.example"]);
        assert_eq!(filter.query(&[]), "federation=not_ready");
        assert!(Filter::from_query(&query(&[("federation", "sideways")])).is_err());
    }

    #[test]
    fn query_strings_keep_filters_and_encode() {
        let filter = Filter {
            state: Some(Standing::Failing),
            tenant: Some("a b&c".into()),
            q: None,
            not_ready: false,
        };
        assert_eq!(
            filter.query(&[("page", "2")]),
            "state=failing&tenant=a%20b%26c&page=2"
        );
    }

    #[test]
    fn pages() {
        let items: Vec<usize> = (0..PAGE_SIZE * 2 + 3).collect();
        assert_eq!(Page::count(items.len()), 3);
        assert_eq!(Page::count(0), 1);
        assert_eq!(Page::Number(1).slice(&items).len(), PAGE_SIZE);
        assert_eq!(Page::Number(3).slice(&items), &[1000, 1001, 1002]);
        assert!(Page::Number(9).slice(&items).is_empty());
        assert_eq!(Page::All.slice(&items).len(), items.len());
        assert_eq!(Page::from_query(&query(&[("page", "all")])), Page::All);
        assert_eq!(Page::from_query(&query(&[("page", "0")])), Page::Number(1));
        assert_eq!(Page::from_query(&query(&[("page", "x")])), Page::Number(1));
    }
}
