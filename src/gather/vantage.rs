//! Vantage health: whether a vantage's own means work — every resolver answers a query it can
//! always ask (`health_query`, the root's NS by default) and a random name under it that no
//! cache holds (it can still reach authorities), and its proxy, if any, accepts a
//! connection. A probe whose look failed in a way that may be ours consults it: while the
//! vantage is down, the checks that needed the broken means are absent, not failed (SPEC §5).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::{Instant, timeout};

use super::dns::Resolvers;
use super::proxy;
use super::tls::TlsClient;
use crate::config::Proxy;
use crate::facts::DnsFailure;

/// The network side of one vantage: its resolvers and its TLS client, shared by all probes.
pub struct VantageClient {
    pub name: String,
    pub public: bool,
    /// SOCKS5 proxy connections go through.
    pub proxy: Option<Proxy>,
    /// The name every resolver must answer NS for (vantage health).
    pub health_query: String,
    pub resolvers: Resolvers,
    pub tls: TlsClient,
    /// Whether the vantage's host has a route for each address family, as its connections
    /// found.
    pub routes: Routes,
}

/// Per address family, what the vantage's latest telling connection found: routed (it
/// connected, or was refused), or no route (ENETUNREACH, EADDRNOTAVAIL); unknown until one
/// was tried. `sipfed_vantage_address_family_up`.
#[derive(Debug, Default)]
pub struct Routes {
    v4: AtomicU8,
    v6: AtomicU8,
}

impl Routes {
    const UNKNOWN: u8 = 0;
    const UP: u8 = 1;
    const DOWN: u8 = 2;

    /// Records what a connection to `ip` showed of its family's route.
    pub fn saw(&self, ip: IpAddr, routed: bool) {
        let slot = match ip {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => &self.v4,
            IpAddr::V6(_) => &self.v6,
        };
        let now = if routed { Self::UP } else { Self::DOWN };
        let was = slot.swap(now, Ordering::Relaxed);
        if was != now && !routed {
            tracing::warn!(
                family = family_name(ip),
                "no route for this address family: its addresses are not looked at from this vantage"
            );
        }
    }

    /// (`ipv4` | `ipv6`, routed) for every family a connection was tried in.
    pub fn known(&self) -> Vec<(&'static str, bool)> {
        [("ipv4", &self.v4), ("ipv6", &self.v6)]
            .into_iter()
            .filter_map(|(name, slot)| match slot.load(Ordering::Relaxed) {
                Self::UNKNOWN => None,
                s => Some((name, s == Self::UP)),
            })
            .collect()
    }
}

/// The `family` label value of an address.
pub fn family_name(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

/// The scheduled checker runs at least this often.
pub const EVERY: Duration = Duration::from_secs(30);

/// How long a health result stands for a probe: two rounds of the checker, so that a probe
/// checks again itself only when the checker is not running (`check`, `/probe`) or stuck.
pub const FRESH: Duration = Duration::from_secs(60);

/// Bound on one health check (each resolver query, the proxy connect).
pub const CHECK_BOUND: Duration = Duration::from_secs(3);

/// The outcome of one health check of one vantage.
#[derive(Debug, Clone)]
pub struct Health {
    /// Every resolver answered the health query.
    pub resolvers_up: bool,
    /// The proxy accepted a connection (true without a proxy).
    pub proxy_up: bool,
    /// When the check finished.
    pub checked: Instant,
    /// What failed, for logs and people (never a label).
    pub detail: String,
}

impl Health {
    /// `sipfed_vantage_up`: its resolvers answer and its proxy accepts connections.
    pub fn up(&self) -> bool {
        self.resolvers_up && self.proxy_up
    }
}

/// The latest health of every vantage of one configuration.
#[derive(Default)]
pub struct Board {
    latest: RwLock<HashMap<String, Health>>,
}

impl Board {
    /// The latest result for `vantage`, if any.
    pub fn get(&self, vantage: &str) -> Option<Health> {
        let latest = self.latest.read().unwrap_or_else(|p| p.into_inner());
        latest.get(vantage).cloned()
    }

    /// The latest result for `vantage` if it is fresh.
    pub fn fresh(&self, vantage: &str) -> Option<Health> {
        self.get(vantage).filter(|h| h.checked.elapsed() < FRESH)
    }

    /// Records a result; logs when the vantage goes down or comes back.
    pub fn set(&self, vantage: &str, health: Health) {
        let mut latest = self.latest.write().unwrap_or_else(|p| p.into_inner());
        let was_up = latest.get(vantage).map(Health::up);
        if was_up != Some(health.up()) {
            if health.up() {
                tracing::info!(vantage, "vantage up");
            } else {
                tracing::warn!(vantage, problem = %health.detail, "vantage down: its probes' checks that need it are absent");
            }
        }
        latest.insert(vantage.to_string(), health);
    }
}

/// Checks `client`'s resolvers and proxy at once, each within `bound`.
pub async fn check(client: &VantageClient, bound: Duration) -> Health {
    let resolvers = timeout(bound, client.resolvers.health(&client.health_query));
    let proxy = async {
        match &client.proxy {
            None => Ok(()),
            Some(p) => match timeout(bound, proxy::accepts(p)).await {
                Ok(r) => r,
                Err(_) => Err("no connection within the bound".into()),
            },
        }
    };
    let (resolvers, proxy) = tokio::join!(resolvers, proxy);
    let mut problems = Vec::new();
    let resolvers_up = match resolvers {
        Err(_) => {
            problems.push(format!(
                "resolvers did not answer {} NS in time",
                client.health_query
            ));
            false
        }
        Ok(answers) => {
            for a in &answers {
                if let Err(e) = a.answer {
                    let why = match e {
                        DnsFailure::Nxdomain => "NXDOMAIN for the root",
                        DnsFailure::NoAuthority => {
                            "no reachable authority (EDE 22/23): it lost its upstream"
                        }
                        _ => e.reason().as_str(),
                    };
                    problems.push(format!(
                        "resolver {} did not answer {} NS and a fresh name under it: {why}",
                        a.resolver, client.health_query,
                    ));
                }
            }
            !answers.is_empty() && answers.iter().all(|a| a.answer.is_ok())
        }
    };
    let proxy_up = match proxy {
        Ok(()) => true,
        Err(e) => {
            // The address only: the proxy's credentials are never in a message.
            let address = client.proxy.as_ref().map(|p| p.address.as_str());
            problems.push(format!("proxy {} refused: {e}", address.unwrap_or("")));
            false
        }
    };
    Health {
        resolvers_up,
        proxy_up,
        checked: Instant::now(),
        detail: problems.join("; "),
    }
}

#[cfg(test)]
impl VantageClient {
    /// A vantage without proxy whose one resolver (the discard port) is never asked.
    pub(crate) fn test(name: &str) -> VantageClient {
        let vantage = crate::config::Vantage {
            name: name.to_string(),
            resolvers: vec![crate::config::ResolverAddr::Addr(
                std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
            )],
            public: false,
            proxy: None,
            health_query: ".".into(),
        };
        VantageClient {
            name: name.to_string(),
            public: false,
            proxy: None,
            health_query: ".".into(),
            resolvers: Resolvers::new(&vantage, Duration::from_secs(1)).expect("resolvers"),
            tls: TlsClient::new().expect("TLS client"),
            routes: Routes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Routes;

    /// A family is unknown until a connection tells, then what the latest telling one found;
    /// an IPv4-mapped IPv6 address counts for IPv4.
    #[test]
    fn routes_per_family_follow_the_latest_connection() {
        let r = Routes::default();
        assert_eq!(r.known(), vec![]);
        r.saw("::1".parse().unwrap(), false);
        assert_eq!(r.known(), vec![("ipv6", false)]);
        r.saw("::ffff:192.0.2.1".parse().unwrap(), true);
        assert_eq!(r.known(), vec![("ipv4", true), ("ipv6", false)]);
        r.saw("2001:db8::1".parse().unwrap(), true);
        assert_eq!(r.known(), vec![("ipv4", true), ("ipv6", true)]);
    }
}
