//! Where a delivery may go. A tenant admin chooses the URL, so without a check Parlor could be
//! aimed at the clinic's own network or a cloud metadata service. The host is resolved and every
//! address it resolves to is checked, at registration and again at each attempt (a name may
//! resolve elsewhere later: DNS rebinding); the attempt then connects to the addresses checked,
//! never resolving again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// What the configuration allows beyond the public internet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outbound {
    /// `webhook_allow_private`: private, loopback, link-local and shared (CGNAT) addresses.
    pub allow_private: bool,
    /// A stand-in configuration (`--demo`, `--fixture`): loopback, where a test's receiver is.
    pub allow_loopback: bool,
}

/// A URL checked and resolved: where to connect, and what to say to the server there.
#[derive(Clone, Debug)]
pub struct Target {
    pub tls: bool,
    /// The host as named in the URL (the `Host` header, and TLS's server name).
    pub host: String,
    pub port: u16,
    /// Path and query.
    pub path: String,
    pub addrs: Vec<SocketAddr>,
}

/// Why a URL is not accepted (words for the client and the outbox).
pub type Refusal = String;

/// The URL's form: http or https, a host, no credentials, no fragment.
pub fn parse(text: &str) -> Result<Url, Refusal> {
    let url = Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "must be an http or https URL, not {}:",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry a user name or password (they would be stored and shown \
                    in the outbox); authenticate the delivery by its signature"
                .into(),
        );
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#…)".into());
    }
    Ok(url)
}

/// Resolves `url`'s host and checks every address it names.
pub async fn resolve(url: &Url, policy: Outbound) -> Result<Target, Refusal> {
    let tls = url.scheme() == "https";
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let (host, addrs) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(url::Host::Domain(name)) => {
            let found = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| format!("host {name} does not resolve ({e})"))?
                .collect::<Vec<_>>();
            if found.is_empty() {
                return Err(format!("host {name} does not resolve"));
            }
            (name.to_string(), found)
        }
        None => return Err("must name a host".into()),
    };
    for addr in &addrs {
        if let Some(why) = refused(addr.ip(), policy) {
            let what = if host == addr.ip().to_string() {
                format!("{host} is {why}")
            } else {
                format!("{host} resolves to {}, {why}", addr.ip())
            };
            return Err(format!("{what}, where webhooks may not go{}", hint(policy)));
        }
    }
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(Target {
        tls,
        host,
        port,
        path,
        addrs,
    })
}

fn hint(policy: Outbound) -> &'static str {
    if policy.allow_private {
        ""
    } else {
        " unless the server sets webhook_allow_private = true"
    }
}

/// Why `ip` may not be a destination under `policy`, or None.
pub fn refused(ip: IpAddr, policy: Outbound) -> Option<&'static str> {
    let class = classify(ip)?;
    match class {
        Class::Loopback if policy.allow_loopback || policy.allow_private => None,
        Class::Loopback | Class::Private | Class::LinkLocal | Class::Shared
            if policy.allow_private =>
        {
            None
        }
        _ => Some(class.words()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Loopback,
    Private,
    LinkLocal,
    Shared,
    Unspecified,
    Multicast,
    Reserved,
}

impl Class {
    fn words(self) -> &'static str {
        match self {
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::LinkLocal => "a link-local address (cloud metadata services live there)",
            Class::Shared => "a shared (carrier-grade NAT) address",
            Class::Unspecified => "the unspecified address",
            Class::Multicast => "a multicast or broadcast address",
            Class::Reserved => "a reserved address",
        }
    }
}

/// The kind of non-public address `ip` is, or None for a public one.
fn classify(ip: IpAddr) -> Option<Class> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) and
            // NAT64 (64:ff9b::a.b.c.d) forms reach the IPv4 address they carry.
            let seg = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            if seg[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return classify_v4(embedded_v4(v6));
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return classify_v4(embedded_v4(v6));
            }
            classify_v6(v6)
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Ipv4Addr {
    let o = v6.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_private() {
        Class::Private
    } else if ip.is_link_local() {
        Class::LinkLocal
    } else if a == 100 && (64..128).contains(&b) {
        Class::Shared
    } else if ip.is_unspecified() || a == 0 {
        Class::Unspecified
    } else if ip.is_multicast() || ip.is_broadcast() {
        Class::Multicast
    } else if a >= 240 {
        Class::Reserved
    } else {
        return None;
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_unspecified() {
        Class::Unspecified
    } else if first & 0xfe00 == 0xfc00 {
        Class::Private
    } else if first & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if ip.is_multicast() {
        Class::Multicast
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(text: &str) -> Option<&'static str> {
        refused(text.parse().unwrap(), Outbound::default())
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(no(ip).is_some(), "{ip} should be refused");
        }
        for ip in [
            "93.184.216.34",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(no(ip).is_none(), "{ip} should be allowed");
        }
    }

    #[test]
    fn the_settings_widen_what_is_allowed() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        let stand_in = Outbound {
            allow_private: false,
            allow_loopback: true,
        };
        assert!(refused(lo, stand_in).is_none());
        assert!(refused(private, stand_in).is_some());
        let open = Outbound {
            allow_private: true,
            allow_loopback: false,
        };
        assert!(refused(lo, open).is_none());
        assert!(refused(private, open).is_none());
        assert!(refused("224.0.0.1".parse().unwrap(), open).is_some());
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(parse("ftp://example.com/").is_err());
        assert!(parse("https://user:pw@example.com/").is_err());
        assert!(parse("not a url").is_err());
        assert!(parse("https://example.com/hook?x=1").is_ok());
    }
}
