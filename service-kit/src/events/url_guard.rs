//! Webhook URLs that cannot be aimed at the network inside: only `http(s)`, and no private,
//! loopback, link-local or otherwise non-public address, checked when an endpoint is saved
//! and again when each delivery connects (a name may resolve elsewhere by then).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Which addresses deliveries may reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlPolicy {
    /// Lets loopback addresses through (tests, a laptop); nothing else private.
    pub allow_loopback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("must be an absolute http or https URL")]
    NotHttp,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("its host does not resolve")]
    Unresolved,
    #[error("points to a private, loopback or link-local address")]
    Private,
}

impl UrlPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        if ip.is_loopback() || ipv4_of(ip).is_some_and(|v4| v4.is_loopback()) {
            return self.allow_loopback;
        }
        match ipv4_of(ip) {
            Some(v4) => public_v4(v4),
            None => match ip {
                IpAddr::V6(v6) => public_v6(v6),
                IpAddr::V4(_) => false,
            },
        }
    }

    /// `raw` as a URL deliveries may be sent to, resolving its host now.
    pub async fn check(&self, raw: &str) -> Result<Url, UrlRefused> {
        let url = Url::parse(raw).map_err(|_| UrlRefused::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(UrlRefused::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefused::Credentials);
        }
        let addresses = self.resolve(&url).await?;
        if addresses.is_empty() {
            return Err(UrlRefused::Unresolved);
        }
        Ok(url)
    }

    /// The addresses `url`'s host resolves to, all of which this policy allows.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, UrlRefused> {
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| UrlRefused::Unresolved)?
                .collect(),
            None => return Err(UrlRefused::NotHttp),
        };
        if addresses.iter().any(|a| !self.allows(a.ip())) {
            return Err(UrlRefused::Private);
        }
        Ok(addresses)
    }
}

/// Resolves names for the delivery client, refusing any that lead somewhere the policy
/// does not allow: the check at connect time.
pub struct GuardedResolver(pub UrlPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if found.is_empty() || found.iter().any(|a| !policy.allows(a.ip())) {
                return Err(
                    Box::new(UrlRefused::Private) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The IPv4 address an IPv6 one carries (mapped or NAT64), or the address itself.
fn ipv4_of(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Some(v4);
            }
            let s = v6.segments();
            (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]).then(|| {
                Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)
            })
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(policy: UrlPolicy, ip: &str) -> bool {
        policy.allows(ip.parse().unwrap())
    }

    #[test]
    fn only_public_addresses_pass() {
        let strict = UrlPolicy::default();
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!allowed(strict, private), "{private} must be refused");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(allowed(strict, public), "{public} must pass");
        }
    }

    #[test]
    fn loopback_passes_only_when_allowed_and_nothing_else_does() {
        let laptop = UrlPolicy {
            allow_loopback: true,
        };
        assert!(allowed(laptop, "127.0.0.1"));
        assert!(allowed(laptop, "::1"));
        assert!(!allowed(laptop, "10.0.0.1"));
        assert!(!allowed(laptop, "169.254.169.254"));
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_credentials_and_address() {
        let strict = UrlPolicy::default();
        assert_eq!(
            strict.check("ftp://example.com/x").await,
            Err(UrlRefused::NotHttp)
        );
        assert_eq!(strict.check("not a url").await, Err(UrlRefused::NotHttp));
        assert_eq!(
            strict.check("http://u:p@8.8.8.8/").await,
            Err(UrlRefused::Credentials)
        );
        assert_eq!(
            strict.check("http://127.0.0.1:9/hook").await,
            Err(UrlRefused::Private)
        );
        assert_eq!(
            strict.check("http://[::1]/hook").await,
            Err(UrlRefused::Private)
        );
        assert_eq!(
            strict.check("http://localhost/hook").await,
            Err(UrlRefused::Private)
        );
        assert!(strict.check("https://8.8.8.8/hook").await.is_ok());
    }
}
