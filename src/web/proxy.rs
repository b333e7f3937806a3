//! Who the client is when Cuppa runs behind a reverse proxy: the address ranges whose
//! `X-Forwarded-For` is believed (`--trusted-proxy`), and the walk through that header.
//!
//! A CIDR type of our own rather than a crate: parsing and matching a prefix is a few lines,
//! and the throttles depend on it being exactly right.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::HeaderMap;

/// An address range such as `10.0.0.0/8` or `fd00::/8`; a bare address is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range. An IPv4 address seen as IPv6 (`::ffff:10.0.0.1`, as a
    /// dual-stack listener reports it) is matched as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        // The family first: an IPv6 range's prefix is longer than an IPv4 address.
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }
}

/// `ip` with every bit past the first `prefix` cleared.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(ip) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u32::from(ip) & mask).to_be_bytes())
        }
        IpAddr::V6(ip) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u128::from(ip) & mask).to_be_bytes())
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let network = address
            .parse::<IpAddr>()
            .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8 or fd00::/8"))?
            .to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("`{text}`: the prefix length must be a number from 0 to {bits}"))?,
        };
        // "10.0.0.1/8" is most likely a typo for a single host or for 10.0.0.0/8: trusting a
        // whole range by mistake would let its every address choose its throttling key.
        let lowest = masked(network, prefix);
        if lowest != network {
            return Err(format!("`{text}` has bits set past the prefix: did you mean {lowest}/{prefix}?"));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[Cidr]>);

impl TrustedProxies {
    pub fn new(ranges: impl IntoIterator<Item = Cidr>) -> TrustedProxies {
        TrustedProxies(ranges.into_iter().collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client of a request that arrived from `peer`. Only a trusted proxy's
    /// `X-Forwarded-For` is read, from the right (each proxy appends the address it was
    /// reached from), passing over further trusted proxies: the first address that is not one
    /// is the client. Everything left of it was written by the client and could be anything.
    /// A header that cannot be read where it matters gives the peer: every visitor then shares
    /// the proxy's address, which throttles more strictly, never less.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops = headers.get_all("x-forwarded-for").iter().rev().peekable();
        if hops.peek().is_none() {
            return peer;
        }
        let mut nearest = peer;
        for value in hops {
            let Ok(value) = value.to_str() else { return peer };
            for hop in value.rsplit(',') {
                let Ok(hop) = hop.trim().parse::<IpAddr>() else { return peer };
                nearest = hop.to_canonical();
                if !self.trusts(nearest) {
                    return nearest;
                }
            }
        }
        // Every hop is a proxy of ours: the farthest one is the best we know.
        nearest
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_exactly_the_addresses_under_their_prefix() {
        let private = cidr("10.0.0.0/8");
        assert!(private.contains(ip("10.0.0.0")) && private.contains(ip("10.255.255.255")));
        assert!(!private.contains(ip("11.0.0.0")) && !private.contains(ip("9.255.255.255")));
        assert!(private.contains(ip("::ffff:10.1.2.3")), "an IPv4 address seen through a dual-stack socket");
        assert!(!private.contains(ip("::a00:1")), "an IPv6 address is not an IPv4 one");

        let odd = cidr("192.168.4.0/22");
        assert!(odd.contains(ip("192.168.7.255")) && !odd.contains(ip("192.168.8.0")));

        let host = cidr("127.0.0.1");
        assert_eq!(host, cidr("127.0.0.1/32"));
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));

        let everything = cidr("0.0.0.0/0");
        assert!(everything.contains(ip("203.0.113.9")) && !everything.contains(ip("::1")));

        let unique_local = cidr("fd00::/8");
        assert!(unique_local.contains(ip("fd12:3456::1")) && !unique_local.contains(ip("fe80::1")));
        let v6_host = cidr("2001:db8::7/128");
        assert!(v6_host.contains(ip("2001:db8::7")) && !v6_host.contains(ip("2001:db8::8")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert_eq!(cidr("::ffff:10.0.0.0/8"), cidr("10.0.0.0/8"));
        assert_eq!(cidr(" fd00::/8 ").to_string(), "fd00::/8");
    }

    #[test]
    fn malformed_ranges_are_refused_with_a_hint() {
        for bad in ["", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "10.0.0.0/-1", "example.com/8"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
        let typo = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert!(typo.contains("10.0.0.0/8"), "{typo}");
        assert!("2001:db8::1/32".parse::<Cidr>().unwrap_err().contains("2001:db8::/32"));
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_peer_is_believed_about_the_client() {
        let proxies = TrustedProxies::new([cidr("127.0.0.1/32"), cidr("10.0.0.0/8")]);
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("198.51.100.1"), &headers), ip("198.51.100.1"), "an untrusted peer");
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &headers), ip("127.0.0.1"), "no proxies");
        assert_eq!(proxies.client(ip("::ffff:127.0.0.1"), &headers), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"), "no header");
    }

    #[test]
    fn the_header_is_walked_from_the_right_past_trusted_proxies_only() {
        let proxies = TrustedProxies::new([cidr("127.0.0.1/32"), cidr("10.0.0.0/8")]);
        let peer = ip("127.0.0.1");
        // The client wrote "1.1.1.1" itself; the edge proxy appended who it saw.
        assert_eq!(proxies.client(peer, &forwarded(&["1.1.1.1, 203.0.113.9, 10.0.0.2"])), ip("203.0.113.9"));
        // Several header lines read as one list, in order.
        assert_eq!(proxies.client(peer, &forwarded(&["1.1.1.1", "203.0.113.9, 10.0.0.2"])), ip("203.0.113.9"));
        assert_eq!(proxies.client(peer, &forwarded(&["2001:db8::5"])), ip("2001:db8::5"));
        // Garbage left of the client is the client's own and does not matter.
        assert_eq!(proxies.client(peer, &forwarded(&["nonsense, 203.0.113.9"])), ip("203.0.113.9"));
        // Garbage where the client should be: the peer.
        for bad in ["203.0.113.9, nonsense", "", "203.0.113.9:443", "unknown"] {
            assert_eq!(proxies.client(peer, &forwarded(&[bad])), peer, "{bad:?}");
        }
        assert_eq!(proxies.client(peer, &forwarded(&["10.0.0.3, 10.0.0.2"])), ip("10.0.0.3"), "only proxies");
    }
}
