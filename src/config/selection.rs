//! Sharding and vantage selection: what one instance probes of a configuration
//! (`--shard`, `--vantage`). The hash that splits domains is [`crate::shard`].

use super::schema::{Config, Domain, Role};
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

impl Config {
    /// Applies an instance's `--vantage` and `--shard` selection.
    pub fn select(&mut self, selection: &Selection) -> Result<(), Error> {
        self.restrict_vantages(&selection.vantages)?;
        if let Some(shard) = selection.shard {
            self.shard(shard);
        }
        Ok(())
    }

    /// Keeps only shard `I/N` (0-based I) of the domains, split by a stable hash of tenant and
    /// name, so N instances with the same file expose disjoint sets whose union is the whole;
    /// a domain's shard depends on its tenant and name alone, so a reload moves only entries
    /// that changed those. The own domains of a tenant with a partner here that another shard
    /// exposes become [`Config::shadow`]: probed here too, for the partners' inbound verdicts.
    pub fn shard(&mut self, shard: Shard) {
        let mine =
            |d: &Domain| crate::shard::shard_of(&d.tenant, &d.name, shard.count) == shard.index;
        let with_partners: std::collections::HashSet<String> = self
            .domains
            .iter()
            .filter(|d| d.role == Role::Peer && mine(d))
            .map(|d| d.tenant.clone())
            .collect();
        let (kept, others): (Vec<Domain>, Vec<Domain>) = std::mem::take(&mut self.domains)
            .into_iter()
            .partition(mine);
        self.domains = kept;
        self.shadow = others
            .into_iter()
            .filter(|d| d.role == Role::Own && with_partners.contains(&d.tenant))
            .collect();
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
        for d in self.domains.iter_mut().chain(&mut self.shadow) {
            d.vantages.retain(|v| names.contains(v));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("sipfed.yml"), text).map_err(|e| e.to_string())
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

    /// A tenant's own domains are shadows (probed, not exposed) on every other shard holding
    /// one of its partners, and nowhere else.
    #[test]
    fn own_domains_are_shadows_where_their_partners_are() {
        let mut text = String::from(
            "domains:\n  - {domain: ours.example, tenant: acme, role: own, fqdn: sip.ours.example}\n  - {domain: lonely.example, tenant: solo, role: own, fqdn: sip.lonely.example}\n",
        );
        for i in 0..12 {
            text.push_str(&format!("  - {{domain: p{i}.example, tenant: acme}}\n"));
        }
        let owner = crate::shard::shard_of("acme", "ours.example", 3);
        let mut shadows = 0;
        for i in 0..3 {
            let mut c = parse(&text).unwrap();
            c.shard(Shard { index: i, count: 3 });
            let exposed = c.domains.iter().any(|d| d.name == "ours.example");
            let shadow: Vec<&str> = c.shadow.iter().map(|d| d.name.as_str()).collect();
            let partners_here = c
                .domains
                .iter()
                .any(|d| d.tenant == "acme" && d.role == Role::Peer);
            assert_eq!(exposed, i == owner, "shard {i}");
            let want: Vec<&str> = if i != owner && partners_here {
                vec!["ours.example"]
            } else {
                vec![]
            };
            assert_eq!(shadow, want, "shard {i}");
            shadows += shadow.len();
        }
        // The partners are spread: both other shards hold one, so both probe ours.example.
        assert_eq!(shadows, 2);
    }
}
