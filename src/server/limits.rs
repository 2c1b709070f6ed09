//! Login limits and the client IP behind trusted proxies.
//!
//! - Per client address (an IPv4 address, or the /64 an IPv6 address is in: one host
//!   usually owns a whole /64), every attempt counts: `per_ip` a minute, then 429.
//! - Per user *and* address, failures count: after `free_failures` wrong passwords from one
//!   address, each next attempt for that user from there waits twice as long as the last
//!   (1 s, 2 s, 4 s, ... at most 15 minutes; 429 with `Retry-After` meanwhile, no password
//!   work). A success clears it. Nobody elsewhere can lock the real user out: their
//!   address has its own count.
//!
//! Limits live in the instance's memory: with several instances behind a load balancer each
//! one counts on its own (documented in docs/sync.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The longest wait a run of failures earns.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failure records kept at most (memory stays bounded whatever an attacker sprays).
const MAX_TRACKED: usize = 100_000;

/// Who an address counts as: IPv4 as is, IPv6 by its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrKey {
    V4(u32),
    V6Net(u64),
}

impl AddrKey {
    pub fn of(ip: IpAddr) -> AddrKey {
        match ip {
            IpAddr::V4(v4) => AddrKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey::V4(u32::from(v4)),
                None => AddrKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When the next attempt is allowed, after `free` failures without a wait.
    fn next_allowed(&self, free: u32) -> Instant {
        if self.count < free {
            return self.last;
        }
        let doublings = (self.count - free).min(20);
        let wait = Duration::from_secs(1u64 << doublings).min(MAX_DELAY);
        self.last + wait
    }
}

/// An attempt that may not run now: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub u64);

pub struct LoginLimits {
    per_ip: DefaultKeyedRateLimiter<AddrKey>,
    free_failures: u32,
    failures: Mutex<HashMap<(String, AddrKey), Failures>>,
}

impl LoginLimits {
    /// `free_failures` wrong passwords per user and address before the waits start;
    /// `per_ip` attempts a minute per address (also the burst).
    pub fn new(free_failures: u32, per_ip: u32) -> LoginLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_ip: RateLimiter::keyed(q(per_ip)),
            free_failures,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// May this attempt run now? Counts it against the address's allowance.
    pub fn check(&self, user: &str, ip: IpAddr) -> Result<(), Wait> {
        let addr = AddrKey::of(ip);
        if let Ok(map) = self.failures.lock()
            && let Some(f) = map.get(&(user.to_string(), addr))
        {
            let at = f.next_allowed(self.free_failures);
            let now = Instant::now();
            if at > now {
                return Err(Wait((at - now).as_secs_f64().ceil().max(1.0) as u64));
            }
        }
        match self.per_ip.check_key(&addr) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                Err(Wait(wait.as_secs().max(1)))
            }
        }
    }

    /// A wrong password for `user` from `ip`.
    pub fn failed(&self, user: &str, ip: IpAddr) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            forget_old(&mut map);
        }
        let key = (user.to_string(), AddrKey::of(ip));
        if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
            return;
        }
        let e = map.entry(key).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        e.count = e.count.saturating_add(1);
        e.last = Instant::now();
    }

    /// The right password: the address's failures for this user are forgotten.
    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&(user.to_string(), AddrKey::of(ip)));
        }
    }

    /// Forget what no longer limits anything (bounded memory).
    pub fn retain_recent(&self) {
        self.per_ip.retain_recent();
        if let Ok(mut map) = self.failures.lock() {
            forget_old(&mut map);
        }
    }
}

/// Failures whose longest wait has passed are forgotten.
fn forget_old(map: &mut HashMap<(String, AddrKey), Failures>) {
    let now = Instant::now();
    map.retain(|_, f| now.duration_since(f.last) < MAX_DELAY);
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
    fn failures_delay_one_user_from_one_address_only() {
        let l = LoginLimits::new(3, 1000);
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        let owner: IpAddr = "198.51.100.4".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check("alice", attacker).is_ok());
            l.failed("alice", attacker);
        }
        // The fourth attempt from there waits; the owner elsewhere does not.
        assert!(matches!(l.check("alice", attacker), Err(Wait(1))));
        assert!(l.check("alice", owner).is_ok());
        assert!(l.check("bob", attacker).is_ok());
        // Each further failure doubles the wait, up to the cap.
        for _ in 0..30 {
            l.failed("alice", attacker);
        }
        let Err(Wait(w)) = l.check("alice", attacker) else {
            panic!("no wait")
        };
        assert_eq!(w, MAX_DELAY.as_secs());
        l.succeeded("alice", attacker);
        assert!(l.check("alice", attacker).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let l = LoginLimits::new(100, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check("x", a).is_ok() && l.check("y", b).is_ok());
        assert!(
            l.check("z", a).is_err(),
            "the same /64 shares one allowance"
        );
        assert!(l.check("z", other).is_ok());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            AddrKey::of(mapped),
            AddrKey::of("127.0.0.1".parse().unwrap())
        );
    }
}
