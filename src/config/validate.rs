//! From decoded files to a validated [`Config`]: defaults, cross-checks, paths relative to the
//! file, `domain_files`, and errors at the offending key.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::decode::{RawConfig, RawDomain, RawVantage, TenantName, decode, read};
use super::locate::{Seg, locate};
use super::normalize::normalize_domain;
use super::schema::*;
use crate::error::Error;

impl Config {
    /// Reads and validates a configuration file and every file its `domain_files` name.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = read(path)?;
        Config::parse(path, &text)
    }

    /// Validates configuration text; `path` names it in errors and anchors `domain_files`.
    /// The steps run in file order, so the first error reported is the first a reader meets.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let raw: RawConfig = decode(path, text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let global = global(path, text, base, raw.global)?;
        let vantages = vantages(path, text, raw.vantages)?;
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
        let tenants = tenants(base, raw.tenants);
        check_identity_files(path, text, &global, &tenants)?;
        add_domain_files(
            path,
            text,
            &raw.domain_files,
            &vantage_names,
            &mut seen,
            &mut domains,
        )?;
        let sip_from = sip_from(&tenants, &domains);
        Ok(Config {
            global,
            vantages,
            domains,
            shadow: Vec::new(),
            tenants,
            sip_from,
        })
    }
}

/// An error at the value at `at` in `text`.
fn problem(path: &Path, text: &str, at: &[Seg<'_>], message: String) -> Error {
    Error::Config {
        location: locate(path, text, at),
        message,
    }
}

/// `global:` with its paths resolved against `base` (the file's folder), checked.
fn global(path: &Path, text: &str, base: &Path, mut global: Global) -> Result<Global, Error> {
    global.ca_file = global.ca_file.map(|p| base.join(p));
    if let Some(c) = &mut global.client_cert {
        c.cert_file = base.join(&c.cert_file);
        c.key_file = base.join(&c.key_file);
    }
    let problem = |key: &str, msg: &str| {
        problem(path, text, &[Seg::Key("global"), Seg::Key(key)], msg.into())
    };
    if global.concurrency == 0 {
        return Err(problem(
            "concurrency",
            "global.concurrency: expected a number of probes of at least 1",
        ));
    }
    if global.interval < Duration::from_secs(1) {
        return Err(problem("interval", "global.interval: expected at least 1s"));
    }
    if global.interval > MAX_INTERVAL {
        return Err(problem("interval", "global.interval: expected at most 24h"));
    }
    if global.timeout.is_zero() || global.timeout >= global.interval {
        return Err(problem(
            "timeout",
            "global.timeout: expected more than 0s and less than global.interval",
        ));
    }
    Ok(global)
}

/// `vantages:` sorted by name, or the default [`Vantage::inside`] when the key is absent.
fn vantages(
    path: &Path,
    text: &str,
    raw: Option<BTreeMap<String, RawVantage>>,
) -> Result<Vec<Vantage>, Error> {
    let Some(map) = raw else {
        return Ok(vec![Vantage::inside()]);
    };
    let mut out = Vec::new();
    for (name, v) in map {
        out.push(vantage(path, text, name, v)?);
    }
    if out.is_empty() {
        return Err(problem(
            path,
            text,
            &[Seg::Key("vantages")],
            "vantages: expected at least one vantage".into(),
        ));
    }
    Ok(out)
}

/// One entry of `vantages:`, checked.
fn vantage(path: &Path, text: &str, name: String, v: RawVantage) -> Result<Vantage, Error> {
    let problem = |key: &str, msg: String| {
        problem(
            path,
            text,
            &[Seg::Key("vantages"), Seg::Key(&name), Seg::Key(key)],
            msg,
        )
    };
    if v.resolvers.is_empty() {
        return Err(problem(
            "resolvers",
            format!("vantages.{name}.resolvers: expected at least one resolver"),
        ));
    }
    let proxy = match &v.proxy {
        None => None,
        Some(p) => Some(
            p.parse::<Proxy>()
                .map_err(|m| problem("proxy", format!("vantages.{name}.proxy: {m}")))?,
        ),
    };
    let health_query = match v.health_query.as_deref() {
        None | Some(".") => ".".to_string(),
        Some(q) => normalize_domain(q)
            .map_err(|m| problem("health_query", format!("vantages.{name}.health_query: {m}")))?,
    };
    Ok(Vantage {
        name,
        resolvers: v.resolvers,
        public: v.public,
        proxy,
        health_query,
    })
}

/// Each tenant's `sip_from`, else `sipfed-monitor@` its first own domain (in file order).
fn sip_from(
    tenants: &BTreeMap<String, TenantIdentity>,
    domains: &[Domain],
) -> BTreeMap<String, SipAddress> {
    let mut from: BTreeMap<String, SipAddress> = tenants
        .iter()
        .filter_map(|(name, t)| Some((name.clone(), t.sip_from.clone()?)))
        .collect();
    for d in domains.iter().filter(|d| d.role == Role::Own) {
        from.entry(d.tenant.clone()).or_insert_with(|| SipAddress {
            user: SipAddress::DEFAULT_USER.into(),
            domain: d.name.clone(),
        });
    }
    from
}

/// `tenants:` with their paths resolved against `base` (the file's folder).
fn tenants(
    base: &Path,
    raw: BTreeMap<TenantName, TenantIdentity>,
) -> BTreeMap<String, TenantIdentity> {
    let mut tenants = BTreeMap::new();
    for (name, mut t) in raw {
        let name = name.0;
        if let Some(c) = &mut t.client_cert {
            c.cert_file = base.join(&c.cert_file);
            c.key_file = base.join(&c.key_file);
        }
        t.inbound_ca_file = t.inbound_ca_file.map(|p| base.join(p));
        tenants.insert(name, t);
    }
    tenants
}

/// Adds the domains of every file `domain_files` names (patterns relative to the main file),
/// in pattern order and, per pattern, file name order.
fn add_domain_files(
    path: &Path,
    text: &str,
    patterns: &[String],
    vantage_names: &[String],
    seen: &mut HashSet<(String, String)>,
    domains: &mut Vec<Domain>,
) -> Result<(), Error> {
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, pattern) in patterns.iter().enumerate() {
        let at = [Seg::Key("domain_files"), Seg::Index(i)];
        let full = base.join(pattern);
        let full = full.to_string_lossy();
        let paths = glob::glob(&full).map_err(|e| {
            problem(
                path,
                text,
                &at,
                format!("domain_files: invalid pattern {pattern:?}: {e}"),
            )
        })?;
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        files.sort();
        // A pattern that names nothing is a typo or a missing mount, not an empty tenant.
        if files.is_empty() {
            return Err(problem(
                path,
                text,
                &at,
                format!("domain_files: pattern {pattern:?} matches no file"),
            ));
        }
        for file in files {
            let sub_text = read(&file)?;
            let entries: Vec<RawDomain> = decode(&file, &sub_text)?;
            add_domains(&file, &sub_text, &[], entries, vantage_names, seen, domains)?;
        }
    }
    Ok(())
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
        crate::pem::load_certified_key(&c.cert_file, &c.key_file).map_err(|e| {
            problem(
                &[Seg::Key("global"), Seg::Key("client_cert")],
                "global.client_cert",
                e,
            )
        })?;
    }
    for (name, t) in tenants {
        if let Some(c) = &t.client_cert {
            crate::pem::load_certified_key(&c.cert_file, &c.key_file).map_err(|e| {
                problem(
                    &[Seg::Key("tenants"), Seg::Key(name), Seg::Key("client_cert")],
                    &format!("tenant {name:?}: client_cert"),
                    e,
                )
            })?;
        }
        if let Some(ca) = &t.inbound_ca_file {
            crate::pem::read_trust_anchors(ca).map_err(|e| {
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

    /// `tenants.*.viewers` and `global.see_all` decode strictly (a misspelt key or a scalar
    /// is refused at its line); no viewers means every user sees every tenant.
    #[test]
    fn viewers_and_see_all_decode_strictly() {
        let c = parse(
            "global:\n  see_all: [prometheus, noc]\ntenants:\n  zahnfee:\n    viewers: [zahnfee-noc, scraper.zahnfee.de]\n  tf: {}\n",
        )
        .unwrap();
        assert_eq!(c.global.see_all, ["prometheus", "noc"]);
        assert_eq!(
            c.tenants["zahnfee"].viewers,
            ["zahnfee-noc", "scraper.zahnfee.de"]
        );
        assert!(c.tenants["tf"].viewers.is_empty());
        assert!(c.names_viewers());
        let c = parse("global:\n  see_all: [prometheus]\ntenants:\n  tf: {}\n").unwrap();
        assert!(!c.names_viewers());
        let err = parse("tenants:\n  zahnfee:\n    viewer: [noc]\n").unwrap_err();
        assert!(
            err.contains("sipfed.yml:3:5") && err.contains("unknown field `viewer`"),
            "{err}"
        );
        let err = parse("global:\n  see_all: noc\n").unwrap_err();
        assert!(
            err.contains("sipfed.yml:2:") && err.contains("see_all"),
            "{err}"
        );
    }

    /// `sip_from` is a strict `user@domain`; without it a tenant sends as `sipfed-monitor@`
    /// its first own domain, and a tenant without own domains has no address at all.
    #[test]
    fn sip_from_is_strict_and_defaults_to_the_first_own_domain() {
        let bad = [
            (
                "zahnfee.de",
                "sipfed.yml:3:5: tenants.zahnfee: invalid SIP address \"zahnfee.de\": expected user@domain",
            ),
            (
                "sip:monitor@zahnfee.de",
                "invalid SIP address \"sip:monitor@zahnfee.de\": expected user@domain",
            ),
            (
                "a b@zahnfee.de",
                "invalid SIP address \"a b@zahnfee.de\": expected user@domain",
            ),
            (
                "monitor@zahn..fee.de",
                "sipfed.yml:3:5: tenants.zahnfee: invalid SIP address \"monitor@zahn..fee.de\": invalid domain name",
            ),
            ("monitor@zahnfee.de;transport=tls", "invalid SIP address"),
        ];
        for (from, want) in bad {
            let err =
                parse(&format!("tenants:\n  zahnfee:\n    sip_from: \"{from}\"\n")).unwrap_err();
            assert!(
                err.contains(want),
                "sip_from {from:?}\n got: {err}\nwant: {want}"
            );
        }
        let c = Config::parse(
            Path::new("sipfed.yml"),
            "tenants:\n  zahnfee:\n    sip_from: Monitor@ZahnFee.DE\n\
             domains:\n  - domain: peer.example\n  - domain: toothfairy.uk\n    role: own\n    tenant: tf\n  - domain: second.uk\n    role: own\n    tenant: tf\n  - domain: other.example\n    tenant: zahnfee\n",
        )
        .unwrap();
        let from = |t: &str| c.sip_from.get(t).map(ToString::to_string);
        assert_eq!(from("zahnfee").as_deref(), Some("Monitor@zahnfee.de"));
        assert_eq!(from("tf").as_deref(), Some("sipfed-monitor@toothfairy.uk"));
        assert_eq!(from("default"), None, "no own domain, no address");
    }

    #[test]
    fn invalid_configs_name_file_line_and_key() {
        let cases = [
            (
                "global:\n  intervall: 5m\n",
                "sipfed.yml:2:3: global: unknown field `intervall`, expected one of",
            ),
            (
                "glbal:\n  interval: 5m\n",
                "sipfed.yml:1:1: top level: unknown field `glbal`, expected one of",
            ),
            (
                "global:\n\tinterval: 5m\n",
                "sipfed.yml:2:1: found character that cannot start any token: a tab character (YAML indents with spaces only)",
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
