//! Which network addresses the platform may call on a merchant's behalf (webhooks, fetched media):
//! public unicast only. Private, loopback, link-local (the cloud metadata endpoint 169.254.169.254
//! and fd00:ec2::254 among them), shared, documentation, multicast and reserved ranges are refused,
//! including IPv4 addresses hidden in IPv6 forms (mapped, compatible, NAT64, 6to4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a caller may reach besides the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public unicast addresses only (every deployment).
    PublicOnly,
    /// Also this machine's loopback (a developer's receiver, the tests' fakes); never private or
    /// link-local ranges.
    PublicAndLoopback,
}

impl Reach {
    /// Whether `ip` may be called.
    pub fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Reach::PublicAndLoopback && is_loopback(ip))
    }
}

/// Loopback, in any of its spellings (127.0.0.0/8, ::1, ::ffff:127.x.x.x).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..=127).contains(&b)) // shared address space (carrier NAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4 carried inside IPv6 is judged as the IPv4 address it reaches.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[0..6] == [0, 0, 0, 0, 0, 0] {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        return false;
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 64:ff9b::/96
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        // 6to4 2002:a.b.c.d::/48
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (fd00:ec2::254 is AWS's metadata)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "8.8.8.8",
            "157.240.22.35", // graph.facebook.com
            "201.141.28.77",
            "2a03:2880:f10c:83:face:b00c:0:25de",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn private_loopback_link_local_and_metadata_are_refused_in_every_spelling() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.10",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(!is_public(ip(s)), "{s} is not public");
            assert!(!Reach::PublicOnly.allows(ip(s)), "{s}");
        }
    }

    #[test]
    fn the_loopback_allowance_opens_loopback_only() {
        for s in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(Reach::PublicAndLoopback.allows(ip(s)), "{s}");
        }
        for s in [
            "10.0.0.1",
            "169.254.169.254",
            "fd00:ec2::254",
            "192.168.0.1",
        ] {
            assert!(!Reach::PublicAndLoopback.allows(ip(s)), "{s}");
        }
        assert!(Reach::PublicAndLoopback.allows(ip("8.8.8.8")));
    }
}
