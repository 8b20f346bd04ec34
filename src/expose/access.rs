//! Who sees which tenants (`tenants.*.viewers`, `global.see_all`, docs/configuration.md "Who
//! sees which tenants"): the identity the web layer verified, mapped to the tenants it may see.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::store::Store;

/// The names the web layer verified for a request: the basic-auth user whose password
/// checked, and the SANs of a client certificate whose chain was verified. A request
/// extension, set by the web config's guard and the TLS connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebUser {
    pub names: Vec<String>,
}

impl WebUser {
    /// Adds `names` to the request's verified names (creating the extension).
    pub fn add(request: &mut Request, names: impl IntoIterator<Item = String>) {
        if let Some(u) = request.extensions_mut().get_mut::<WebUser>() {
            u.names.extend(names);
        } else {
            request.extensions_mut().insert(WebUser {
                names: names.into_iter().collect(),
            });
        }
    }
}

/// The tenants a request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sight {
    /// Every tenant: no tenant names viewers, or the user is in `global.see_all`.
    All,
    /// Only these (a viewer's tenants).
    Tenants(Arc<BTreeSet<String>>),
}

impl Sight {
    /// What `user` may see under `config`; `None`: refused (viewers are configured and the
    /// user is neither a viewer nor in `see_all`, or not authenticated at all).
    pub fn of(config: &Config, user: Option<&WebUser>) -> Option<Sight> {
        if !config.names_viewers() {
            return Some(Sight::All);
        }
        let names = user.map(|u| u.names.as_slice()).unwrap_or_default();
        if names.iter().any(|n| config.global.see_all.contains(n)) {
            return Some(Sight::All);
        }
        let tenants: BTreeSet<String> = config
            .tenants
            .iter()
            .filter(|(_, t)| t.viewers.iter().any(|v| names.contains(v)))
            .map(|(name, _)| name.clone())
            .collect();
        (!tenants.is_empty()).then(|| Sight::Tenants(Arc::new(tenants)))
    }

    /// Whether `tenant`'s domains are shown.
    pub fn sees(&self, tenant: &str) -> bool {
        match self {
            Sight::All => true,
            Sight::Tenants(t) => t.contains(tenant),
        }
    }

    /// Whether this is everything.
    pub fn all(&self) -> bool {
        matches!(self, Sight::All)
    }
}

/// Middleware: 403 for a user who sees no tenant; else the [`Sight`] as a request extension
/// for the handlers.
pub async fn guard(State(store): State<Arc<Store>>, mut request: Request, next: Next) -> Response {
    let sight = {
        let setup = store.setup();
        Sight::of(&setup.config, request.extensions().get::<WebUser>())
    };
    match sight {
        Some(s) => {
            request.extensions_mut().insert(s);
            next.run(request).await
        }
        None => (
            StatusCode::FORBIDDEN,
            "Forbidden: this user sees no tenant\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn user(names: &[&str]) -> WebUser {
        WebUser {
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    /// A viewer of two tenants sees both, a certificate's SAN counts like a user name,
    /// see_all sees everything, a stranger and an anonymous request nothing; without viewers
    /// everyone sees everything.
    #[test]
    fn sight_follows_viewers_and_see_all() {
        let config = Config::parse(
            Path::new("sipfed.yml"),
            "global:\n  see_all: [prom]\ntenants:\n  a:\n    viewers: [alice, noc]\n  b:\n    viewers: [bob, noc]\n  c: {}\n",
        )
        .unwrap();
        let seen = |names: &[&str]| Sight::of(&config, Some(&user(names)));
        let set = |t: &[&str]| {
            Some(Sight::Tenants(Arc::new(
                t.iter().map(|s| s.to_string()).collect(),
            )))
        };
        assert_eq!(seen(&["alice"]), set(&["a"]));
        assert_eq!(seen(&["noc"]), set(&["a", "b"]));
        assert_eq!(seen(&["eve", "bob"]), set(&["b"]));
        assert_eq!(seen(&["alice", "prom"]), Some(Sight::All));
        assert_eq!(seen(&["eve"]), None);
        assert_eq!(seen(&["Alice"]), None);
        assert_eq!(Sight::of(&config, None), None);
        assert!(set(&["a"]).unwrap().sees("a") && !set(&["a"]).unwrap().sees("c"));
        let open = Config::parse(Path::new("sipfed.yml"), "tenants:\n  a: {}\n").unwrap();
        assert_eq!(Sight::of(&open, None), Some(Sight::All));
    }
}
