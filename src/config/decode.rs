//! Decoding with positions: the raw serde types of the files, decoded strictly (unknown keys
//! are errors), with `file:line:column` and the key path in every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::normalize::normalize_domain;
use super::schema::{Federation, Global, ResolverAddr, Role, TenantIdentity};
use crate::error::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) global: Global,
    #[serde(default)]
    pub(super) vantages: Option<BTreeMap<String, RawVantage>>,
    #[serde(default)]
    pub(super) domains: Vec<RawDomain>,
    #[serde(default)]
    pub(super) domain_files: Vec<String>,
    #[serde(default)]
    pub(super) tenants: BTreeMap<TenantName, TenantIdentity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVantage {
    #[serde(default = "default_resolvers")]
    pub(super) resolvers: Vec<ResolverAddr>,
    #[serde(default)]
    pub(super) public: bool,
    #[serde(default)]
    pub(super) proxy: Option<String>,
    #[serde(default)]
    pub(super) health_query: Option<String>,
}

pub(super) fn default_resolvers() -> Vec<ResolverAddr> {
    vec![ResolverAddr::System]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDomain {
    pub(super) domain: DomainName,
    #[serde(default)]
    pub(super) tenant: Option<Tenant>,
    #[serde(default)]
    pub(super) role: Role,
    #[serde(default)]
    pub(super) federation: Federation,
    #[serde(default)]
    pub(super) fqdn: Option<DomainName>,
    #[serde(default)]
    pub(super) port: Option<u16>,
    #[serde(default)]
    pub(super) vantages: Option<Vec<String>>,
    #[serde(default)]
    pub(super) cert_file: Option<PathBuf>,
}

/// A domain name validated while decoding, so errors carry the YAML position.
pub(super) struct DomainName(pub(super) String);

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        normalize_domain(&s)
            .map(DomainName)
            .map_err(de::Error::custom)
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Tenant(pub(super) String);

/// A tenant's name as a key of `tenants:`.
pub(super) type TenantName = Tenant;

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
        let mut message = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        // The library prefixes the key path only below the top level; name the top level too,
        // so every decoding error says where in the document it is.
        const SERDE: [&str; 6] = [
            "unknown field",
            "missing field",
            "duplicate field",
            "unknown variant",
            "invalid type",
            "invalid value",
        ];
        if SERDE.iter().any(|p| message.starts_with(p)) {
            message = format!("top level: {message}");
        }
        // A tab is the usual cause of this scanner error, which does not say so.
        let line = e
            .location()
            .and_then(|l| text.lines().nth(l.line().saturating_sub(1)));
        if message.contains("cannot start any token") && line.is_some_and(|l| l.contains('\t')) {
            message = format!("{message}: a tab character (YAML indents with spaces only)");
        }
        Error::Config { location, message }
    })
}
