//! The validated configuration's public types, and how each value type reads itself from a
//! string (`Proxy`, `ResolverAddr`, durations).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::normalize::{parse_duration, percent_decode};

/// The validated configuration the exporter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub global: Global,
    /// Vantages sorted by name (the default config has one, `inside`).
    pub vantages: Vec<Vantage>,
    /// Every domain from the main file and from `domain_files`; `(tenant, domain)` is unique.
    pub domains: Vec<Domain>,
    /// Own domains another shard exposes, probed here too because partners of their tenant
    /// are this shard's (`--shard`): they decide those partners' inbound verdicts and give no
    /// series, page or API entry here. Empty unsharded.
    pub shadow: Vec<Domain>,
    /// `tenants:`: the federation identities configured apart from the globals, by name.
    /// A tenant named by domains but not listed here inherits the globals.
    pub tenants: BTreeMap<String, TenantIdentity>,
    /// Who each tenant's OPTIONS come from: its `sip_from`, else `sipfed-monitor@` its first
    /// own domain; a tenant with neither has none. Resolved over every domain before a
    /// shard's selection, so every instance sends the same.
    pub sip_from: BTreeMap<String, SipAddress>,
}

impl Config {
    /// Whether any tenant names viewers: then each web user sees only its tenants.
    pub fn names_viewers(&self) -> bool {
        self.tenants.values().any(|t| !t.viewers.is_empty())
    }
}

/// One tenant's federation identity (`tenants.<name>`), paths resolved.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantIdentity {
    /// What the tenant's edge presents when it connects to partners (overrides
    /// `global.client_cert`).
    pub client_cert: Option<ClientCert>,
    /// What the tenant's edge trusts when partners connect (default: `global.ca_file` plus the
    /// built-in roots); when set, only the certificates of this file.
    pub inbound_ca_file: Option<PathBuf>,
    /// Who the tenant's OPTIONS to its partners come from (default: `sipfed-monitor@` its
    /// first own domain).
    pub sip_from: Option<SipAddress>,
    /// Web users who see this tenant (docs/configuration.md "Who sees which tenants"):
    /// basic-auth user names of the web config, or client-certificate SANs.
    pub viewers: Vec<String>,
}

/// A SIP address `user@domain` (no `sip:` scheme, no parameters): the user of RFC 3261's
/// unreserved characters, the domain a valid domain name, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAddress {
    pub user: String,
    pub domain: String,
}

impl SipAddress {
    /// The user the exporter sends as when `sip_from` is not configured.
    pub const DEFAULT_USER: &'static str = "sipfed-monitor";
}

impl fmt::Display for SipAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

impl std::str::FromStr for SipAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<SipAddress, String> {
        let expected = || {
            format!(
                "invalid SIP address {s:?}: expected user@domain, e.g. sipfed-monitor@zahnfee.de"
            )
        };
        let (user, domain) = s.split_once('@').ok_or_else(expected)?;
        // RFC 3261 §25.1 user: unreserved characters (no escapes, which no edge needs here).
        let user_ok = !user.is_empty()
            && user.len() <= 64
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c));
        if !user_ok || domain.contains('@') || domain.contains(':') || domain.ends_with('.') {
            return Err(expected());
        }
        let domain = super::normalize::normalize_domain(domain)
            .map_err(|e| format!("invalid SIP address {s:?}: {e}"))?;
        Ok(SipAddress {
            user: user.to_string(),
            domain,
        })
    }
}

impl<'de> Deserialize<'de> for SipAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

/// `global:` settings, defaults applied.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    #[serde(deserialize_with = "de_duration")]
    pub interval: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    pub concurrency: usize,
    pub cert_warning_days: u32,
    pub ca_file: Option<PathBuf>,
    pub sip_options: bool,
    pub client_cert: Option<ClientCert>,
    pub probe_any_domain: bool,
    /// Validate the DNSSEC of the zones the federation records come from (docs/metrics.md
    /// "DNSSEC").
    pub dnssec: bool,
    /// Web users who see every tenant once any tenant names viewers.
    pub see_all: Vec<String>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(15),
            concurrency: 64,
            cert_warning_days: 21,
            ca_file: None,
            sip_options: true,
            client_cert: None,
            probe_any_domain: false,
            dnssec: true,
            see_all: Vec::new(),
        }
    }
}

/// The client certificate offered to peers that request one (mutual TLS).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// One point of view: where DNS is asked and where connections start.
#[derive(Debug, Clone, PartialEq)]
pub struct Vantage {
    pub name: String,
    pub resolvers: Vec<ResolverAddr>,
    /// Addresses seen from here must be globally routable.
    pub public: bool,
    /// The SOCKS5 proxy that TCP connections of this vantage go through.
    pub proxy: Option<Proxy>,
    /// The name whose NS records every resolver must answer for the vantage to be up
    /// (`.` by default: the root, which every resolver can always ask).
    pub health_query: String,
}

/// A SOCKS5 proxy: where it listens and, when it wants them, the credentials. The password is
/// never logged nor exposed: `Display` and `Debug` show the address only.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port`.
    pub address: String,
    /// `(username, password)` for RFC 1929 authentication.
    pub credentials: Option<(String, String)>,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// Parses `socks5://[user:password@]host:port` (userinfo percent-decoded).
impl std::str::FromStr for Proxy {
    type Err = String;

    fn from_str(url: &str) -> Result<Proxy, String> {
        // The URL may hold a password: errors quote it only without the userinfo.
        let shown = match url.rsplit_once('@') {
            Some((_, host)) => format!("socks5://…@{host}"),
            None => url.to_string(),
        };
        let expected =
            || format!("invalid proxy {shown:?}: expected socks5://[USER:PASSWORD@]HOST:PORT");
        let rest = url.strip_prefix("socks5://").ok_or_else(expected)?;
        let rest = rest.trim_end_matches('/');
        let (userinfo, address) = match rest.rsplit_once('@') {
            Some((u, a)) => (Some(u), a),
            None => (None, rest),
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').ok_or_else(expected)?;
                let (user, password) = (percent_decode(user), percent_decode(password));
                let fits =
                    |s: &Option<String>| s.as_ref().is_some_and(|s| (1..=255).contains(&s.len()));
                if !fits(&user) || !fits(&password) {
                    return Err(format!(
                        "invalid proxy {shown:?}: user and password must each be 1 to 255 bytes"
                    ));
                }
                user.zip(password)
            }
        };
        match address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
                Ok(Proxy {
                    address: address.to_string(),
                    credentials,
                })
            }
            _ => Err(expected()),
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = if self.credentials.is_some() {
            " (with credentials)"
        } else {
            ""
        };
        write!(f, "Proxy({}{auth})", self.address)
    }
}

/// A resolver of a vantage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ResolverAddr {
    /// The resolvers of `/etc/resolv.conf`, without its search list.
    System,
    Addr(SocketAddr),
}

impl fmt::Display for ResolverAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolverAddr::System => f.write_str("system"),
            ResolverAddr::Addr(a) if a.port() == 53 => write!(f, "{}", a.ip()),
            ResolverAddr::Addr(a) => write!(f, "{a}"),
        }
    }
}

impl<'de> Deserialize<'de> for ResolverAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_resolver(&s).map_err(de::Error::custom)
    }
}

/// Parses `system`, `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_resolver(s: &str) -> Result<ResolverAddr, String> {
    if s == "system" {
        return Ok(ResolverAddr::System);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ResolverAddr::Addr(SocketAddr::new(ip, 53)));
    }
    s.parse::<SocketAddr>()
        .map(ResolverAddr::Addr)
        .map_err(|_| {
            format!("invalid resolver {s:?}: expected \"system\", an IP address or IP:PORT")
        })
}

/// `own`: the company's own federation domain; `peer`: a partner's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Own,
    #[default]
    Peer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Own => "own",
            Role::Peer => "peer",
        }
    }
}

/// `open`: found through the SRV record; `direct`: a hand-configured route to `fqdn:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Federation {
    #[default]
    Open,
    Direct,
}

impl Federation {
    pub fn as_str(self) -> &'static str {
        match self {
            Federation::Open => "open",
            Federation::Direct => "direct",
        }
    }
}

/// One monitored domain, validated: names are lower-case ASCII (punycode) without trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub tenant: String,
    pub role: Role,
    pub federation: Federation,
    /// Own: the expected SRV target; direct: the route's host (always set for direct).
    pub fqdn: Option<String>,
    /// Port of a direct route (5061 unless configured).
    pub port: u16,
    /// Names of the vantages this domain is probed from (all when not configured).
    pub vantages: Vec<String>,
    pub cert_file: Option<PathBuf>,
}

impl Domain {
    /// A peer domain with defaults, as `/probe` and `check` use for unconfigured domains.
    pub fn peer(name: String, vantages: Vec<String>) -> Domain {
        Domain {
            name,
            tenant: "default".into(),
            role: Role::Peer,
            federation: Federation::Open,
            fqdn: None,
            port: 5061,
            vantages,
            cert_file: None,
        }
    }
}

impl Config {
    /// The client certificate `tenant`'s probes present: its own, else the global one.
    pub fn client_cert(&self, tenant: &str) -> Option<&ClientCert> {
        match self.tenants.get(tenant) {
            Some(TenantIdentity {
                client_cert: Some(c),
                ..
            }) => Some(c),
            _ => self.global.client_cert.as_ref(),
        }
    }

    /// The vantage with this name.
    pub fn vantage(&self, name: &str) -> Option<&Vantage> {
        self.vantages.iter().find(|v| v.name == name)
    }
}

/// The name of the vantage a configuration without `vantages:` gets.
pub const DEFAULT_VANTAGE: &str = "inside";

impl Vantage {
    /// The vantage a configuration without `vantages:` gets: `inside`, asking the system
    /// resolvers.
    pub fn inside() -> Vantage {
        Vantage {
            name: DEFAULT_VANTAGE.into(),
            resolvers: vec![ResolverAddr::System],
            public: false,
            proxy: None,
            health_query: ".".into(),
        }
    }
}

/// The longest duration a configuration may write: far beyond any sensible interval, and far
/// from where `Instant + Duration` overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86400);

/// The longest `global.interval`: a day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86400);

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_proxy(url: &str) -> Result<Proxy, String> {
        url.parse()
    }

    #[test]
    fn proxy_urls() {
        let p = parse_proxy("socks5://127.0.0.1:1080").unwrap();
        assert_eq!(
            (p.address.as_str(), p.credentials),
            ("127.0.0.1:1080", None)
        );
        let p = parse_proxy("socks5://bastion.example.net:1080/").unwrap();
        assert_eq!(p.address, "bastion.example.net:1080");
        let p = parse_proxy("socks5://fed:s%40cret:x@bastion.example.net:1080").unwrap();
        assert_eq!(p.address, "bastion.example.net:1080");
        assert_eq!(
            p.credentials,
            Some(("fed".to_string(), "s@cret:x".to_string()))
        );
        // The password never shows: not in Display, Debug, nor an error.
        assert_eq!(p.to_string(), "bastion.example.net:1080");
        assert!(!format!("{p:?}").contains("cret"));
        let err = parse_proxy("socks5://fed:hunter2@bastion").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            err,
            "invalid proxy \"socks5://…@bastion\": expected socks5://[USER:PASSWORD@]HOST:PORT"
        );
        assert!(parse_proxy("socks5://:pw@x:1").is_err());
        assert!(parse_proxy("socks5://user@x:1").is_err());
        assert!(parse_proxy("socks5://u:%zz@x:1").is_err());
        assert!(parse_proxy("http://x:1").is_err());
        assert!(parse_proxy("socks5://x").is_err());
        assert!(parse_proxy("socks5://x:0").is_err());
    }
}
