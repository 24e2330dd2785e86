//! Where a request may go. A watch names a URL on the public internet; a redirect must not
//! take it somewhere else (another site, or a machine inside the network policywatch runs
//! in), and neither may a name that resolves to an internal address.
//!
//! - A redirect stays on the same site: the same registrable domain (`bills.parliament.uk` →
//!   `parliament.uk`) and the same explicit port, or a host the watch lists in
//!   `allow_redirects`.
//! - Loopback, private, link-local, unique-local, shared (CGNAT) and unspecified addresses are
//!   refused, whether written in the URL or returned by DNS, unless `[fetch] allow_private`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Second-level labels under which registrations happen one level further down (`co.uk`,
/// `gov.uk`, ...). Not the whole Public Suffix List: the suffixes of the countries whose
/// sources policywatch watches, and the common generic ones. A host under a suffix missing
/// here is judged by its last two labels, which only ever makes the rule stricter for
/// `example.co.xx`-style names (a redirect between two of them is refused, not allowed).
const SECOND_LEVEL_SUFFIXES: &[&str] = &[
    "ac.uk",
    "co.uk",
    "gov.uk",
    "ltd.uk",
    "me.uk",
    "mod.uk",
    "net.uk",
    "nhs.uk",
    "org.uk",
    "plc.uk",
    "police.uk",
    "sch.uk",
    "gov.scot",
    "gov.wales",
    "com.au",
    "gov.au",
    "org.au",
    "co.nz",
    "govt.nz",
    "org.nz",
    "gc.ca",
    "gov.ie",
    "europa.eu",
];

/// The registrable part of a host name: `www.gov.uk` → `www.gov.uk` (gov.uk is a suffix),
/// `bills.parliament.uk` → `parliament.uk`. IP addresses are their own site.
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return host;
    }
    let last_two = format!("{}.{}", labels[n - 2], labels[n - 1]);
    if SECOND_LEVEL_SUFFIXES.contains(&last_two.as_str()) {
        format!("{}.{last_two}", labels[n - 3])
    } else {
        last_two
    }
}

/// Whether a redirect from `from` to `to` may be followed: same site (registrable domain and
/// explicit port), or `to`'s host (or `host:port`) is listed in `allow`.
pub fn redirect_allowed(from: &Url, to: &Url, allow: &[String]) -> bool {
    let (Some(from_host), Some(to_host)) = (from.host_str(), to.host_str()) else {
        return false;
    };
    let to_host = to_host.to_ascii_lowercase();
    let listed = allow.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == to_host
            || to
                .port_or_known_default()
                .is_some_and(|p| a == format!("{to_host}:{p}"))
    });
    listed
        || (registrable_domain(from_host) == registrable_domain(&to_host)
            && from.port() == to.port())
}

/// Why an address is internal, or `None` for a public one.
pub fn internal_class(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared (carrier-grade NAT)")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (first & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (first & 0xfe00) == 0xfc00 {
                Some("unique-local")
            } else {
                None
            }
        }
    }
}

/// A request refused because its host is, or resolves to, an internal address.
#[derive(Debug, thiserror::Error)]
#[error("{}: refused (set `[fetch] allow_private = true` to allow internal addresses)", self.what())]
pub struct InternalAddress {
    /// The name that resolved to `addr`; `None` when the URL gave the address itself.
    pub resolved_from: Option<String>,
    pub addr: IpAddr,
    pub class: &'static str,
}

impl InternalAddress {
    fn what(&self) -> String {
        match &self.resolved_from {
            Some(host) => format!("{host} resolves to {}, a {} address", self.addr, self.class),
            None => format!("{} is a {} address", self.addr, self.class),
        }
    }
}

/// Refuses a URL whose host is an internal IP address written out (no DNS involved).
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), InternalAddress> {
    if allow_private {
        return Ok(());
    }
    let addr = match url.host() {
        Some(Host::Ipv4(a)) => IpAddr::V4(a),
        Some(Host::Ipv6(a)) => IpAddr::V6(a),
        _ => return Ok(()),
    };
    match internal_class(addr) {
        Some(class) => Err(InternalAddress {
            resolved_from: None,
            addr,
            class,
        }),
        None => Ok(()),
    }
}

/// DNS for the HTTP client: the system resolver (or fixed answers, for tests), whose
/// answers are checked before any connection is made, so a public name that resolves to
/// 10.x is caught.
pub(super) struct GuardedResolver {
    pub allow_private: bool,
    /// Fixed answers by host name, consulted before the system resolver.
    pub fixed: HashMap<String, Vec<IpAddr>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let fixed = self.fixed.get(&host.to_ascii_lowercase()).cloned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match fixed {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if !allow_private {
                // One internal answer refuses the name: connecting to "the public one" of a
                // mixed answer would still let DNS choose where we go.
                if let Some((addr, class)) = addrs
                    .iter()
                    .find_map(|a| internal_class(a.ip()).map(|c| (a.ip(), c)))
                {
                    return Err(Box::new(InternalAddress {
                        resolved_from: Some(host),
                        addr,
                        class,
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(super) fn resolver(
    allow_private: bool,
    fixed: HashMap<String, Vec<IpAddr>>,
) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver {
        allow_private,
        fixed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable_domain("bills.parliament.uk"), "parliament.uk");
        assert_eq!(registrable_domain("www.gov.uk"), "www.gov.uk");
        assert_eq!(
            registrable_domain("assets.publishing.service.gov.uk"),
            "service.gov.uk"
        );
        assert_eq!(registrable_domain("ico.org.uk"), "ico.org.uk");
        assert_eq!(registrable_domain("Example.COM."), "example.com");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn redirects_stay_on_the_site_unless_listed() {
        let none: &[String] = &[];
        let ok = |a: &str, b: &str| redirect_allowed(&u(a), &u(b), none);
        assert!(ok(
            "http://parliament.uk/a",
            "https://bills.parliament.uk/b"
        ));
        assert!(ok("http://www.example.org/a", "https://example.org/b"));
        assert!(!ok("https://www.gov.uk/a", "https://evil.gov.uk/b"));
        assert!(!ok("https://example.org/a", "https://example.net/a"));
        assert!(!ok("http://127.0.0.1:80/a", "http://127.0.0.1:8080/a"));
        assert!(!ok("http://127.0.0.1:3000/a", "http://127.0.0.1:3001/a"));
        assert!(!ok("http://127.0.0.1:3000/a", "http://127.0.0.2:3000/a"));
        let allow = vec![
            "Archive.example.net".to_string(),
            "127.0.0.1:3001".to_string(),
        ];
        assert!(redirect_allowed(
            &u("https://example.org/a"),
            &u("https://archive.example.net/a"),
            &allow
        ));
        assert!(redirect_allowed(
            &u("http://127.0.0.1:3000/a"),
            &u("http://127.0.0.1:3001/a"),
            &allow
        ));
    }

    #[test]
    fn internal_addresses_are_named() {
        let class = |s: &str| internal_class(s.parse().unwrap());
        assert_eq!(class("127.0.0.1"), Some("loopback"));
        assert_eq!(class("10.1.2.3"), Some("private"));
        assert_eq!(class("172.20.0.1"), Some("private"));
        assert_eq!(class("192.168.1.1"), Some("private"));
        assert_eq!(class("169.254.169.254"), Some("link-local"));
        assert_eq!(class("100.64.0.1"), Some("shared (carrier-grade NAT)"));
        assert_eq!(class("0.0.0.0"), Some("unspecified"));
        assert_eq!(class("::1"), Some("loopback"));
        assert_eq!(class("fe80::1"), Some("link-local"));
        assert_eq!(class("fd00::1"), Some("unique-local"));
        assert_eq!(class("::ffff:10.0.0.1"), Some("private"));
        assert_eq!(class("151.101.0.144"), None);
        assert_eq!(class("2a04:4e42::144"), None);
        let e = check_literal(&u("http://127.0.0.1:9/x"), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "127.0.0.1 is a loopback address: refused (set `[fetch] allow_private = true` to allow internal addresses)"
        );
        assert!(check_literal(&u("http://127.0.0.1:9/x"), true).is_ok());
        assert!(check_literal(&u("http://[fd00::1]/x"), false).is_err());
        assert!(check_literal(&u("https://www.gov.uk/x"), false).is_ok());
    }
}
