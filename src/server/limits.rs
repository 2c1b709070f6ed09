//! Login rate limits (per user and per client IP, 429) and the client IP behind trusted
//! proxies. Limits live in the instance's memory: with several instances behind a load
//! balancer each one counts on its own (documented in the README).

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimits {
    per_user: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    /// `per_user` and `per_ip` login attempts a minute (each is also the burst).
    pub fn new(per_user: u32, per_ip: u32) -> LoginLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_user: RateLimiter::keyed(q(per_user)),
            per_ip: RateLimiter::keyed(q(per_ip)),
        }
    }

    /// `false` when this attempt is over a limit. Both limits count every attempt.
    pub fn allow(&self, user: &str, ip: IpAddr) -> bool {
        let ip_ok = self.per_ip.check_key(&ip).is_ok();
        let user_ok = self.per_user.check_key(&user.to_string()).is_ok();
        ip_ok && user_ok
    }

    /// Forget keys that are back at full allowance (bounded memory).
    pub fn retain_recent(&self) {
        self.per_user.retain_recent();
        self.per_ip.retain_recent();
    }
}

/// An address or a network (`10.0.0.0/8`, `::1`) a proxy may connect from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0..={max}"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.bits as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.bits as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy (else
/// `X-Real-IP`).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if let Some(ip) = forwarded.iter().rev().find(|ip| !is_trusted(**ip)) {
        return *ip;
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn proxy_headers_count_only_from_trusted_peers() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let fwd = h(&[("x-forwarded-for", "203.0.113.7, 10.1.2.3")]);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &fwd, &trusted), stranger);
        let proxy: IpAddr = "10.9.9.9".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &fwd, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let real = h(&[("x-real-ip", "203.0.113.9")]);
        assert_eq!(
            client_ip("::1".parse().unwrap(), &real, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn limits_refuse_after_the_burst_per_user_and_per_ip() {
        let l = LoginLimits::new(3, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| l.allow("alice", ip)));
        assert!(!l.allow("alice", ip));
        assert!(
            l.allow("bob", ip),
            "another user is not limited by alice's attempts"
        );
        let l = LoginLimits::new(100, 2);
        assert!(l.allow("a", ip) && l.allow("b", ip));
        assert!(!l.allow("c", ip));
        assert!(l.allow("c", "127.0.0.2".parse().unwrap()));
    }
}
