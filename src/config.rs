//! Strict YAML configuration: decoding with defaults, validation, `domain_files`, and error
//! messages that name the file, line and key.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What one instance probes of a configuration (`--vantage`, `--shard`), re-applied on reload.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Vantage names to keep (all when empty).
    pub vantages: Vec<String>,
    /// Keep one shard of the domains.
    pub shard: Option<Shard>,
}

/// `--shard=I/N`: shard I (0-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(spec: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {spec:?}: expected I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = spec.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.parse().map_err(|_| bad())?;
        let count: u64 = n.parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The validated configuration the exporter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub global: Global,
    /// Vantages sorted by name (the default config has one, `inside`).
    pub vantages: Vec<Vantage>,
    /// Every domain from the main file and from `domain_files`; `(tenant, domain)` is unique.
    pub domains: Vec<Domain>,
    /// `tenants:`: the federation identities configured apart from the globals, by name.
    /// A tenant named by domains but not listed here inherits the globals.
    pub tenants: BTreeMap<String, TenantIdentity>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Global,
    #[serde(default)]
    vantages: Option<BTreeMap<String, RawVantage>>,
    #[serde(default)]
    domains: Vec<RawDomain>,
    #[serde(default)]
    domain_files: Vec<String>,
    #[serde(default)]
    tenants: BTreeMap<TenantName, TenantIdentity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVantage {
    #[serde(default = "default_resolvers")]
    resolvers: Vec<ResolverAddr>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    health_query: Option<String>,
}

fn default_resolvers() -> Vec<ResolverAddr> {
    vec![ResolverAddr::System]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    domain: DomainName,
    #[serde(default)]
    tenant: Option<Tenant>,
    #[serde(default)]
    role: Role,
    #[serde(default)]
    federation: Federation,
    #[serde(default)]
    fqdn: Option<DomainName>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    vantages: Option<Vec<String>>,
    #[serde(default)]
    cert_file: Option<PathBuf>,
}

/// A domain name validated while decoding, so errors carry the YAML position.
struct DomainName(String);

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        normalize_domain(&s)
            .map(DomainName)
            .map_err(de::Error::custom)
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Tenant(String);

/// A tenant's name as a key of `tenants:`.
type TenantName = Tenant;

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 128 || s.chars().any(|c| c.is_control()) {
            return Err(de::Error::custom(format!(
                "invalid tenant {s:?}: expected 1 to 128 printable characters"
            )));
        }
        Ok(Tenant(s))
    }
}

/// Turns a user-written domain name into lower-case ASCII without trailing dot, converting
/// internationalised names to punycode and rejecting anything that is not a valid host name.
pub fn normalize_domain(input: &str) -> Result<String, String> {
    let trimmed = input.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(format!("invalid domain name {input:?}: empty"));
    }
    let ascii = idna::domain_to_ascii(trimmed)
        .map_err(|_| format!("invalid domain name {input:?}: not a valid (IDN) host name"))?;
    if ascii.len() > 253 {
        return Err(format!(
            "invalid domain name {input:?}: longer than 253 characters"
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "invalid domain name {input:?}: expected at least two labels (like example.com)"
        ));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(format!("invalid domain name {input:?}: empty label"));
        }
        if label.len() > 63 {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} is longer than 63 characters"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} may only contain letters, digits and '-'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} starts or ends with '-'"
            ));
        }
    }
    // An all-numeric top-level label is an IPv4 literal (or one of its short forms, 127.1),
    // never a domain (RFC 3696 §2): SRV lookups under it would be nonsense, and `/probe`
    // must not become a way to point the exporter at an address.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "invalid domain name {input:?}: an IP address is not a domain"
        ));
    }
    Ok(ascii)
}

/// The longest duration a configuration may write: far beyond any sensible interval, and far
/// from where `Instant + Duration` overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86400);

/// The longest `global.interval`: a day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86400);

/// Parses Prometheus-style durations: `500ms`, `15s`, `5m`, `1h`, `1d`, or combinations (`1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}: expected e.g. 500ms, 15s, 5m, 1h");
    let too_long = || format!("invalid duration {s:?}: longer than 100 years");
    if s.is_empty() {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_secs = match unit {
            "ms" => None,
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86400),
            _ => return Err(err()),
        };
        let part = match unit_secs {
            None => Some(Duration::from_millis(n)),
            Some(k) => n.checked_mul(k).map(Duration::from_secs),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
    }
    Ok(total)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(de::Error::custom)
}

impl Config {
    /// Reads and validates a configuration file and every file its `domain_files` name.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = read(path)?;
        Config::parse(path, &text)
    }

    /// Validates configuration text; `path` names it in errors and anchors `domain_files`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let raw: RawConfig = decode(path, text)?;
        let mut global = raw.global;
        let base = path.parent().unwrap_or(Path::new("."));
        global.ca_file = global.ca_file.map(|p| base.join(p));
        if let Some(c) = &mut global.client_cert {
            c.cert_file = base.join(&c.cert_file);
            c.key_file = base.join(&c.key_file);
        }
        let problem = |at: &[Seg<'_>], msg: String| Error::Config {
            location: locate(path, text, at),
            message: msg,
        };
        if global.concurrency == 0 {
            return Err(problem(
                &[Seg::Key("global"), Seg::Key("concurrency")],
                "global.concurrency: expected a number of probes of at least 1".into(),
            ));
        }
        if global.interval < Duration::from_secs(1) {
            return Err(problem(
                &[Seg::Key("global"), Seg::Key("interval")],
                "global.interval: expected at least 1s".into(),
            ));
        }
        if global.interval > MAX_INTERVAL {
            return Err(problem(
                &[Seg::Key("global"), Seg::Key("interval")],
                "global.interval: expected at most 24h".into(),
            ));
        }
        if global.timeout.is_zero() || global.timeout >= global.interval {
            return Err(problem(
                &[Seg::Key("global"), Seg::Key("timeout")],
                "global.timeout: expected more than 0s and less than global.interval".into(),
            ));
        }
        let vantages: Vec<Vantage> = match raw.vantages {
            None => vec![Vantage {
                name: "inside".into(),
                resolvers: default_resolvers(),
                public: false,
                proxy: None,
                health_query: ".".into(),
            }],
            Some(map) => {
                let mut out = Vec::new();
                for (name, v) in map {
                    if v.resolvers.is_empty() {
                        return Err(problem(
                            &[Seg::Key("vantages"), Seg::Key(&name), Seg::Key("resolvers")],
                            format!("vantages.{name}.resolvers: expected at least one resolver"),
                        ));
                    }
                    let proxy = match &v.proxy {
                        None => None,
                        Some(p) => Some(crate::gather::proxy::parse_url(p).map_err(|m| {
                            problem(
                                &[Seg::Key("vantages"), Seg::Key(&name), Seg::Key("proxy")],
                                format!("vantages.{name}.proxy: {m}"),
                            )
                        })?),
                    };
                    let health_query = match v.health_query.as_deref() {
                        None | Some(".") => ".".to_string(),
                        Some(q) => normalize_domain(q).map_err(|m| {
                            problem(
                                &[
                                    Seg::Key("vantages"),
                                    Seg::Key(&name),
                                    Seg::Key("health_query"),
                                ],
                                format!("vantages.{name}.health_query: {m}"),
                            )
                        })?,
                    };
                    out.push(Vantage {
                        name,
                        resolvers: v.resolvers,
                        public: v.public,
                        proxy,
                        health_query,
                    });
                }
                if out.is_empty() {
                    return Err(problem(
                        &[Seg::Key("vantages")],
                        "vantages: expected at least one vantage".into(),
                    ));
                }
                out
            }
        };
        let vantage_names: Vec<String> = vantages.iter().map(|v| v.name.clone()).collect();
        let mut domains = Vec::new();
        let mut seen = HashSet::new();
        add_domains(
            path,
            text,
            &[Seg::Key("domains")],
            raw.domains,
            &vantage_names,
            &mut seen,
            &mut domains,
        )?;
        let mut tenants = BTreeMap::new();
        for (name, mut t) in raw.tenants {
            let name = name.0;
            if let Some(c) = &mut t.client_cert {
                c.cert_file = base.join(&c.cert_file);
                c.key_file = base.join(&c.key_file);
            }
            t.inbound_ca_file = t.inbound_ca_file.map(|p| base.join(p));
            tenants.insert(name, t);
        }
        check_identity_files(path, text, &global, &tenants)?;
        for (i, pattern) in raw.domain_files.iter().enumerate() {
            let at = [Seg::Key("domain_files"), Seg::Index(i)];
            let full = base.join(pattern);
            let full = full.to_string_lossy();
            let paths = glob::glob(&full).map_err(|e| {
                problem(
                    &at,
                    format!("domain_files: invalid pattern {pattern:?}: {e}"),
                )
            })?;
            let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            files.sort();
            // A pattern that names nothing is a typo or a missing mount, not an empty tenant.
            if files.is_empty() {
                return Err(problem(
                    &at,
                    format!("domain_files: pattern {pattern:?} matches no file"),
                ));
            }
            for file in files {
                let sub_text = read(&file)?;
                let entries: Vec<RawDomain> = decode(&file, &sub_text)?;
                add_domains(
                    &file,
                    &sub_text,
                    &[],
                    entries,
                    &vantage_names,
                    &mut seen,
                    &mut domains,
                )?;
            }
        }
        Ok(Config {
            global,
            vantages,
            domains,
            tenants,
        })
    }

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

    /// Applies an instance's `--vantage` and `--shard` selection.
    pub fn select(&mut self, selection: &Selection) -> Result<(), Error> {
        self.restrict_vantages(&selection.vantages)?;
        if let Some(shard) = selection.shard {
            self.shard(shard);
        }
        Ok(())
    }

    /// Keeps only shard `I/N` (0-based I) of the domains, split by a stable hash of tenant and
    /// name, so N instances with the same file probe disjoint sets.
    pub fn shard(&mut self, shard: Shard) {
        self.domains
            .retain(|d| shard_of(&d.tenant, &d.name, shard.count) == shard.index);
    }

    /// Keeps only the named vantages (the `--vantage` flag); unknown names are an error.
    pub fn restrict_vantages(&mut self, names: &[String]) -> Result<(), Error> {
        if names.is_empty() {
            return Ok(());
        }
        for n in names {
            if self.vantage(n).is_none() {
                return Err(Error::Config {
                    location: String::from("--vantage"),
                    message: format!("unknown vantage {n:?}"),
                });
            }
        }
        self.vantages.retain(|v| names.contains(&v.name));
        for d in &mut self.domains {
            d.vantages.retain(|v| names.contains(v));
        }
        Ok(())
    }
}

/// Validates domain entries; `list` is where they sit in `text` (`domains`, or the top level
/// of a `domain_files` file), for error positions.
fn add_domains(
    path: &Path,
    text: &str,
    list: &[Seg<'_>],
    entries: Vec<RawDomain>,
    vantage_names: &[String],
    seen: &mut HashSet<(String, String)>,
    out: &mut Vec<Domain>,
) -> Result<(), Error> {
    for (i, raw) in entries.into_iter().enumerate() {
        let name = raw.domain.0;
        let at = |key: &str| {
            let mut at = list.to_vec();
            at.extend([Seg::Index(i), Seg::Key(key)]);
            locate(path, text, &at)
        };
        let problem = |key: &str, msg: String| Error::Config {
            location: at(key),
            message: msg,
        };
        let tenant = raw.tenant.map(|t| t.0).unwrap_or_else(|| "default".into());
        let fqdn = raw.fqdn.map(|f| f.0);
        if raw.federation == Federation::Direct && fqdn.is_none() {
            return Err(problem(
                "federation",
                format!("domain {name}: federation: direct requires fqdn (the route's host)"),
            ));
        }
        if raw.port.is_some() && raw.federation != Federation::Direct {
            return Err(problem(
                "port",
                format!(
                    "domain {name}: port is only used with federation: direct (open federation takes the port from the SRV record)"
                ),
            ));
        }
        if raw.port == Some(0) {
            return Err(problem(
                "port",
                format!("domain {name}: port: expected 1 to 65535"),
            ));
        }
        if raw.cert_file.is_some() && raw.role != Role::Own {
            return Err(problem(
                "cert_file",
                format!("domain {name}: cert_file is only used with role: own"),
            ));
        }
        let vantages = match raw.vantages {
            None => vantage_names.to_vec(),
            Some(v) => {
                for (j, n) in v.iter().enumerate() {
                    if !vantage_names.contains(n) {
                        let mut entry = list.to_vec();
                        entry.extend([Seg::Index(i), Seg::Key("vantages"), Seg::Index(j)]);
                        return Err(Error::Config {
                            location: locate(path, text, &entry),
                            message: format!(
                                "domain {name}: unknown vantage {n:?}, expected one of: {}",
                                vantage_names.join(", ")
                            ),
                        });
                    }
                }
                v
            }
        };
        if !seen.insert((tenant.clone(), name.clone())) {
            return Err(problem(
                "domain",
                format!("domain {name}: listed twice for tenant {tenant:?}"),
            ));
        }
        out.push(Domain {
            name,
            tenant,
            role: raw.role,
            federation: raw.federation,
            fqdn,
            port: raw.port.unwrap_or(5061),
            vantages,
            cert_file: raw
                .cert_file
                .map(|f| path.parent().unwrap_or(Path::new(".")).join(f)),
        });
    }
    Ok(())
}

/// Every client certificate and inbound trust file must be usable: a missing, unreadable or
/// non-PEM file, or a key that does not match its certificate, is a configuration error
/// naming the tenant and the file (never a silent run without a certificate).
fn check_identity_files(
    path: &Path,
    text: &str,
    global: &Global,
    tenants: &BTreeMap<String, TenantIdentity>,
) -> Result<(), Error> {
    let problem = |at: &[Seg<'_>], who: &str, e: Error| Error::Config {
        location: locate(path, text, at),
        message: format!("{who}: {e}"),
    };
    if let Some(c) = &global.client_cert {
        crate::gather::tls::load_certified_key(&c.cert_file, &c.key_file).map_err(|e| {
            problem(
                &[Seg::Key("global"), Seg::Key("client_cert")],
                "global.client_cert",
                e,
            )
        })?;
    }
    for (name, t) in tenants {
        if let Some(c) = &t.client_cert {
            crate::gather::tls::load_certified_key(&c.cert_file, &c.key_file).map_err(|e| {
                problem(
                    &[Seg::Key("tenants"), Seg::Key(name), Seg::Key("client_cert")],
                    &format!("tenant {name:?}: client_cert"),
                    e,
                )
            })?;
        }
        if let Some(ca) = &t.inbound_ca_file {
            crate::judge::TrustStore::load_only(ca).map_err(|e| {
                problem(
                    &[
                        Seg::Key("tenants"),
                        Seg::Key(name),
                        Seg::Key("inbound_ca_file"),
                    ],
                    &format!("tenant {name:?}: inbound_ca_file"),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// The shard (of `n`) a domain belongs to: FNV-1a of `tenant/name`.
pub fn shard_of(tenant: &str, name: &str, n: u64) -> u64 {
    fnv1a(&[tenant, name], b'/') % n
}

/// FNV-1a over `parts` joined by `separator`: a stable hash (unlike std's, it is fixed across
/// Rust versions), for shards and schedule offsets.
pub fn fnv1a(parts: &[&str], separator: u8) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for (i, part) in parts.iter().enumerate() {
        let sep = (i > 0).then_some(separator);
        for b in sep.into_iter().chain(part.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// Reads a configuration file; errors name it.
pub(crate) fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Config {
        location: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })
}

/// Decodes YAML text; errors carry `file:line:column` and the key path.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T, Error> {
    serde_yaml_ng::from_str(text).map_err(|e| {
        let location = match e.location() {
            Some(l) => format!("{}:{}:{}", path.display(), l.line(), l.column()),
            None => path.display().to_string(),
        };
        let msg = e.to_string();
        // The library appends " at line L column C"; the location already says it.
        let message = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        Error::Config { location, message }
    })
}

/// One step of a key path into YAML text: a mapping key or a sequence index.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `file:line` of the value at `at` (like `domains[3].fqdn`), for errors found after
/// decoding; the deepest part of the path that exists when not all of it does.
fn locate(path: &Path, text: &str, at: &[Seg<'_>]) -> String {
    match line_of(text, at) {
        Some(i) => format!("{}:{}", path.display(), i + 1),
        None => path.display().to_string(),
    }
}

/// One meaningful line of YAML: its number, the column it starts at (a dash counts), the
/// column of its key after any `- `, and its content from there.
type Line<'t> = (usize, usize, usize, &'t str);

/// The 0-based line of the node at `at` in block-style YAML (the style configurations are
/// written in), walking the indentation; a flow collection (`[a, b]`) is located as a whole.
fn line_of(text: &str, at: &[Seg<'_>]) -> Option<usize> {
    let lines: Vec<Line<'_>> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let start = l.len() - l.trim_start().len();
            let mut content = l.trim_start();
            if content.is_empty() || content.starts_with('#') || content.starts_with("---") {
                return None;
            }
            let mut key = start;
            while let Some(rest) = content.strip_prefix('-').filter(|r| r.starts_with(' ')) {
                let trimmed = rest.trim_start();
                key += content.len() - trimmed.len();
                content = trimmed;
            }
            Some((i, start, key, content))
        })
        .collect();
    find(&lines, at, None)
}

/// [`line_of`] within `region`, the lines of one node's children.
fn find(region: &[Line<'_>], at: &[Seg<'_>], found: Option<usize>) -> Option<usize> {
    let (Some((seg, rest)), Some(first)) = (at.split_first(), region.first()) else {
        return found;
    };
    let is_dash = |l: &Line<'_>| l.2 > l.1;
    match *seg {
        Seg::Key(key) => {
            let col = first.2;
            let is_key = |c: &str| {
                let c = c.strip_prefix(['"', '\'']).unwrap_or(c);
                c.strip_prefix(key).is_some_and(|r| {
                    let r = r.strip_prefix(['"', '\'']).unwrap_or(r);
                    r.starts_with(':')
                })
            };
            let Some(p) = region.iter().position(|l| l.2 == col && is_key(l.3)) else {
                return found;
            };
            // Its children are indented deeper, or a list at its own column (YAML allows it).
            let after = &region[p + 1..];
            let end = after
                .iter()
                .position(|l| !(l.1 > col || (l.1 == col && is_dash(l))))
                .unwrap_or(after.len());
            find(&after[..end], rest, Some(region[p].0))
        }
        Seg::Index(n) => {
            let dash = first.1;
            let items: Vec<usize> = (0..region.len())
                .filter(|&p| region[p].1 == dash && is_dash(&region[p]))
                .collect();
            let Some(&p) = items.get(n) else {
                return found;
            };
            let end = items.get(n + 1).copied().unwrap_or(region.len());
            let mut item = region[p..end].to_vec();
            // The item's first key sits after its dash, level with the keys below it.
            item[0].1 = item[0].2;
            find(&item, rest, Some(region[p].0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("sipfed.yml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply() {
        let c = parse("domains:\n  - domain: zahnfee.de\n").unwrap();
        assert_eq!(c.global.interval, Duration::from_secs(300));
        assert_eq!(c.global.timeout, Duration::from_secs(15));
        assert_eq!(c.global.concurrency, 64);
        assert_eq!(c.vantages.len(), 1);
        assert_eq!(c.vantages[0].name, "inside");
        assert_eq!(c.vantages[0].resolvers, vec![ResolverAddr::System]);
        let d = &c.domains[0];
        assert_eq!(
            (d.tenant.as_str(), d.role, d.federation, d.port),
            ("default", Role::Peer, Federation::Open, 5061)
        );
        assert_eq!(d.vantages, vec!["inside".to_string()]);
    }

    #[test]
    fn invalid_configs_name_file_line_and_key() {
        let cases = [
            (
                "global:\n  intervall: 5m\n",
                "sipfed.yml:2:3: global: unknown field `intervall`, expected one of",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    fqdnn: x.zahnfee.de\n",
                "sipfed.yml:3:5: domains[0]: unknown field `fqdnn`",
            ),
            (
                "domains:\n  - domain: zahn..fee.de\n",
                "sipfed.yml:2:5: domains[0]: invalid domain name \"zahn..fee.de\": empty label",
            ),
            (
                "domains:\n  - domain: a_b.de\n",
                "label \"a_b\" may only contain letters, digits and '-'",
            ),
            (
                "global:\n  timeout: 5x\n",
                "sipfed.yml:2:3: global: invalid duration \"5x\"",
            ),
            (
                "vantages:\n  outside:\n    resolvers: [1.1.1.1:abc]\n",
                "invalid resolver \"1.1.1.1:abc\"",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    federation: direct\n",
                "sipfed.yml:3: domain zahnfee.de: federation: direct requires fqdn",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    vantages: [outside]\n",
                "sipfed.yml:3: domain zahnfee.de: unknown vantage \"outside\", expected one of: inside",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n  - domain: ZAHNFEE.de.\n",
                "domain zahnfee.de: listed twice for tenant \"default\"",
            ),
            (
                "global:\n  interval: 10s\n  timeout: 20s\n",
                "sipfed.yml:3: global.timeout: expected more than 0s and less than global.interval",
            ),
            (
                "global:\n  interval: 10s\n  timeout: 10s\n",
                "sipfed.yml:3: global.timeout: expected more than 0s and less than global.interval",
            ),
            (
                "global:\n  interval: 25h\n",
                "sipfed.yml:2: global.interval: expected at most 24h",
            ),
            (
                "global:\n  interval: 1s18446744073709551615s\n",
                "sipfed.yml:2:3: global: invalid duration \"1s18446744073709551615s\": longer than 100 years",
            ),
            (
                "global:\n  interval: 213503982334602d\n",
                "sipfed.yml:2:3: global: invalid duration \"213503982334602d\": longer than 100 years",
            ),
            (
                "global:\n  timeout: 99999999999999999999s\n",
                "sipfed.yml:2:3: global: invalid duration \"99999999999999999999s\": expected e.g.",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    role: owner\n",
                "sipfed.yml:3:11: domains[0].role: unknown variant `owner`, expected `own` or `peer`",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains(want),
                "config {text:?}\n got: {err}\nwant: {want}"
            );
        }
    }

    /// Rules checked after decoding: one invalid configuration each, the exact error, whose
    /// line is the offending key's (not the first line that mentions the value).
    #[test]
    #[rustfmt::skip]
    fn errors_point_at_the_offending_key() {
        let cases = [
            (
                "domains:\n  - domain: a.example\n    fqdn: sip.zahnfee.de\n  - domain: b.example\n  - domain: c.example\n  - domain: zahnfee.de\n    role: own\n    federation: direct\n",
                "sipfed.yml:8: domain zahnfee.de: federation: direct requires fqdn (the route's host)",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    port: 5062\n",
                "sipfed.yml:3: domain zahnfee.de: port is only used with federation: direct (open federation takes the port from the SRV record)",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    federation: direct\n    fqdn: sip.zahnfee.de\n    port: 0\n",
                "sipfed.yml:5: domain zahnfee.de: port: expected 1 to 65535",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n    # cert_file: only for own domains\n    cert_file: sip.pem\n",
                "sipfed.yml:4: domain zahnfee.de: cert_file is only used with role: own",
            ),
            (
                "vantages:\n  inside: {}\n  outside:\n    public: true\ndomains:\n  - domain: outside.example\n  - domain: zahnfee.de\n    vantages:\n      - inside\n      - outsid\n",
                "sipfed.yml:10: domain zahnfee.de: unknown vantage \"outsid\", expected one of: inside, outside",
            ),
            (
                "domains:\n  - domain: zahnfee.de\n  - domain: ZAHNFEE.de.\n",
                "sipfed.yml:3: domain zahnfee.de: listed twice for tenant \"default\"",
            ),
            (
                "global:\n  interval: 1m\n  concurrency: 0\n",
                "sipfed.yml:3: global.concurrency: expected a number of probes of at least 1",
            ),
            (
                "global:\n  timeout: 1s\n  interval: 500ms\n",
                "sipfed.yml:3: global.interval: expected at least 1s",
            ),
            (
                "vantages:\n  outside:\n    public: true\n    resolvers: []\n",
                "sipfed.yml:4: vantages.outside.resolvers: expected at least one resolver",
            ),
            (
                "vantages: {}\n",
                "sipfed.yml:1: vantages: expected at least one vantage",
            ),
            (
                "vantages:\n  outside:\n    health_query: \"a..b\"\n",
                "sipfed.yml:3: vantages.outside.health_query: invalid domain name \"a..b\": empty label",
            ),
            (
                "vantages:\n  outside:\n    proxy: socks5://fed:hunter2@bastion\n",
                "sipfed.yml:3: vantages.outside.proxy: invalid proxy \"socks5://…@bastion\": expected socks5://[USER:PASSWORD@]HOST:PORT",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "config {text:?}");
        }
    }

    #[test]
    fn yaml_positions() {
        let text = "global:\n  interval: 1m\ndomains:\n- domain: a.example\n  fqdn: x.example\n-   domain: b.example\n    port: 1\n  # comment\n- domain: c.example\n  vantages: [inside]\n";
        let at = |p: &[Seg<'_>]| line_of(text, p).map(|l| l + 1);
        assert_eq!(at(&[Seg::Key("global"), Seg::Key("interval")]), Some(2));
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(0), Seg::Key("fqdn")]),
            Some(5)
        );
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(1), Seg::Key("domain")]),
            Some(6)
        );
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(1), Seg::Key("port")]),
            Some(7)
        );
        assert_eq!(
            at(&[
                Seg::Key("domains"),
                Seg::Index(2),
                Seg::Key("vantages"),
                Seg::Index(0)
            ]),
            Some(10)
        );
        // What does not exist is located at its deepest existing parent.
        assert_eq!(
            at(&[Seg::Key("domains"), Seg::Index(2), Seg::Key("port")]),
            Some(9)
        );
        assert_eq!(at(&[Seg::Key("domains"), Seg::Index(7)]), Some(3));
        assert_eq!(at(&[Seg::Key("vantages")]), None);
    }

    #[test]
    fn idn_becomes_punycode_and_names_are_normalised() {
        assert_eq!(
            normalize_domain("Zahnärzte.DE.").unwrap(),
            "xn--zahnrzte-3za.de"
        );
        assert_eq!(
            normalize_domain("xphone.zahnfee.de").unwrap(),
            "xphone.zahnfee.de"
        );
        assert!(normalize_domain("localhost").is_err());
        assert!(normalize_domain("-a.de").is_err());
        for ip in [
            "127.0.0.1",
            "10.1.2.3.",
            "127.1",
            "::1",
            "[::1]",
            "64:ff9b::7f00:1",
        ] {
            assert!(normalize_domain(ip).is_err(), "{ip}");
        }
        assert_eq!(
            normalize_domain("127.0.0.1").unwrap_err(),
            "invalid domain name \"127.0.0.1\": an IP address is not a domain"
        );
        assert_eq!(normalize_domain("1.example").unwrap(), "1.example");
    }

    #[test]
    fn shards_partition_the_domains() {
        let mut text = String::from("domains:\n");
        for i in 0..30 {
            text.push_str(&format!("  - domain: d{i}.example\n"));
        }
        let mut seen = 0;
        for i in 0..3 {
            let mut c = parse(&text).unwrap();
            c.shard(format!("{i}/3").parse().unwrap());
            assert!(!c.domains.is_empty());
            seen += c.domains.len();
        }
        assert_eq!(seen, 30);
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().is_err());
        assert_eq!("1/2".parse::<Shard>(), Ok(Shard { index: 1, count: 2 }));
    }

    #[test]
    fn tenants_have_their_own_identity_and_bad_files_name_tenant_and_file() {
        let dir = std::env::temp_dir().join(format!("sipfed-tenants-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["edge.zahnfee.de".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.join("z.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("z.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("other.key"), other.serialize_pem()).unwrap();
        std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
        let main = dir.join("sipfed.yml");
        let with = |tenants: &str| {
            std::fs::write(
                &main,
                format!("tenants:\n  zahnfee:\n{tenants}domains:\n  - domain: zahnfee.de\n    tenant: zahnfee\n  - domain: toothfairy.uk\n    tenant: other\n"),
            )
            .unwrap();
            Config::load(&main).map_err(|e| e.to_string())
        };
        let c = with(
            "    client_cert: {cert_file: z.pem, key_file: z.key}\n    inbound_ca_file: z.pem\n",
        )
        .unwrap();
        assert_eq!(
            c.client_cert("zahnfee").unwrap().cert_file,
            dir.join("z.pem")
        );
        assert_eq!(
            c.tenants["zahnfee"].inbound_ca_file,
            Some(dir.join("z.pem"))
        );
        // A tenant named by domains but not listed inherits the globals (none here).
        assert!(c.client_cert("other").is_none());
        let at = |line: usize| {
            format!(
                "{}:{line}: tenant \"zahnfee\": client_cert: ",
                main.display()
            )
        };
        let cases = [
            (
                "missing",
                "    client_cert: {cert_file: gone.pem, key_file: z.key}\n",
                at(3),
                "gone.pem",
            ),
            (
                "not PEM",
                "    client_cert: {cert_file: junk.pem, key_file: z.key}\n",
                at(3),
                "junk.pem",
            ),
            (
                "key of another certificate",
                "    client_cert: {cert_file: z.pem, key_file: other.key}\n",
                at(3),
                "does not match the certificate of",
            ),
            (
                "a directory",
                "    client_cert: {cert_file: ., key_file: z.key}\n",
                at(3),
                "",
            ),
        ];
        for (case, tenants, location, names) in cases {
            let err = with(tenants).unwrap_err();
            assert!(err.starts_with(&location), "{case}: {err}");
            assert!(err.contains(names), "{case}: {err}");
        }
        let err = with("    inbound_ca_file: junk.pem\n").unwrap_err();
        assert!(
            err.starts_with(&format!(
                "{}:3: tenant \"zahnfee\": inbound_ca_file: ",
                main.display()
            )) && err.contains("junk.pem"),
            "{err}"
        );
        let err = with("    client_certs: {}\n").unwrap_err();
        assert!(
            err.starts_with(&format!(
                "{}:3:5: tenants.zahnfee: unknown field `client_certs`",
                main.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn vantage_restriction_and_proxies() {
        let text = "vantages:\n  inside:\n    resolvers: [system]\n  outside:\n    resolvers: [\"192.0.2.1:5353\"]\n    public: true\n    proxy: socks5://127.0.0.1:1080\ndomains:\n  - domain: a.example\n  - domain: b.example\n    vantages: [inside]\n";
        let mut c = parse(text).unwrap();
        let outside = c.vantage("outside").unwrap();
        assert_eq!(outside.proxy.as_ref().unwrap().address, "127.0.0.1:1080");
        assert_eq!(outside.proxy.as_ref().unwrap().credentials, None);
        assert_eq!(outside.health_query, ".");
        c.restrict_vantages(&["outside".to_string()]).unwrap();
        assert_eq!(c.vantages.len(), 1);
        assert_eq!(c.domains[0].vantages, vec!["outside".to_string()]);
        assert!(c.domains[1].vantages.is_empty());
        assert!(
            parse(text)
                .unwrap()
                .restrict_vantages(&["nowhere".to_string()])
                .is_err()
        );
        let err = parse("vantages:\n  outside:\n    proxy: http://x:1\n").unwrap_err();
        assert!(
            err.contains("sipfed.yml:3: vantages.outside.proxy: invalid proxy"),
            "{err}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn domain_files_are_merged() {
        let dir = std::env::temp_dir().join(format!("sipfed-cfg-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tenants")).unwrap();
        std::fs::write(
            dir.join("tenants/a.yml"),
            "- domain: a.example\n  tenant: a\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("tenants/b.yml"),
            "- domain: b.example\n  bogus: 1\n",
        )
        .unwrap();
        let main = dir.join("sipfed.yml");
        std::fs::write(&main, "domain_files: [tenants/a.yml]\n").unwrap();
        let c = Config::load(&main).unwrap();
        assert_eq!(c.domains[0].name, "a.example");
        assert_eq!(c.domains[0].tenant, "a");
        std::fs::write(&main, "domain_files: [tenants/*.yml]\n").unwrap();
        let err = Config::load(&main).unwrap_err().to_string();
        assert!(
            err.contains("tenants/b.yml:2:3: .[0]: unknown field `bogus`"),
            "{err}"
        );
        // A pattern that matches nothing is an error at its line.
        std::fs::write(
            &main,
            "domain_files:\n  - tenants/a.yml\n  - tenant/*.yml\n",
        )
        .unwrap();
        let err = Config::load(&main).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: domain_files: pattern \"tenant/*.yml\" matches no file",
                main.display()
            )
        );
        // Errors in a domain file point into that file.
        std::fs::write(
            dir.join("tenants/c.yml"),
            "- domain: c.example\n- domain: d.example\n  role: peer\n  cert_file: d.pem\n",
        )
        .unwrap();
        std::fs::write(&main, "domain_files: [tenants/c.yml]\n").unwrap();
        let err = Config::load(&main).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:4: domain d.example: cert_file is only used with role: own",
                dir.join("tenants/c.yml").display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
