//! Address classification shared by gathering (where the exporter may connect) and judging
//! (`target_public_address`): one rule, so what is judged is what was looked at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is globally routable, as the IANA special-purpose address registries mark it
/// ("Globally Reachable"): not private, loopback, link-local, shared (CGNAT), documentation,
/// benchmarking, reserved, multicast or unspecified, nor the deprecated 6to4 relay anycast
/// `192.88.99.0/24` (its `192.88.99.2` 6a44 relay excepted); in IPv6 not IPv4-mapped
/// `::ffff:0:0/96`, local-use NAT64 `64:ff9b:1::/48`, discard-only `100::/64` and the dummy
/// prefix `100:0:0:1::/64`, the IETF protocol assignments `2001::/23` (Teredo `2001::/32`,
/// benchmarking `2001:2::/48`, ORCHID `2001:10::/28`; the anycast and delegated parts the
/// registry marks global stay global), documentation `2001:db8::/32` and `3fff::/20`, SRv6
/// SIDs `5f00::/16`, deprecated site-local `fec0::/10`; nor an IPv6 address that reaches a
/// non-global IPv4 address (IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[..3] == [192, 88, 99] && o[3] != 2)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some()
                || s[..3] == [0x64, 0xff9b, 1]
                || (s[0] == 0x100 && s[1..3] == [0, 0] && s[3] <= 1)
                || ietf_protocol_assignment(v6)
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x3fff && s[1] < 0x1000)
                || s[0] == 0x5f00
                || (s[0] & 0xffc0) == 0xfec0
                || embedded_v4(v6).is_some_and(|v4| !is_global(IpAddr::V4(v4))))
        }
    }
}

/// `2001::/23`, IETF protocol assignments, not globally reachable except the parts the
/// registry marks so: the PCP, TURN and DNS-SD SRP anycast addresses `2001:1::1`–`2001:1::3`,
/// AMT `2001:3::/32`, AS112-v6 `2001:4:112::/48`, ORCHIDv2 `2001:20::/28`, Drone Remote ID
/// `2001:30::/28`.
fn ietf_protocol_assignment(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    if s[0] != 0x2001 || s[1] >= 0x200 {
        return false;
    }
    let global = (s[1] == 1 && s[2..7] == [0; 5] && (1..=3).contains(&s[7]))
        || s[1] == 3
        || s[1..3] == [4, 0x112]
        || (0x20..=0x3f).contains(&s[1]);
    !global
}

/// Whether the exporter must never connect to `ip`, whatever the vantage: unspecified ("this
/// host", `0.0.0.0/8`, `::`), multicast, broadcast, link-local. A partner's record pointing
/// there would make the exporter probe its own host or its local network.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
                || embedded_v4(v6).is_some_and(forbidden_v4)
        }
    }
}

/// The IPv4 address an IPv6 address carries to, if any: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d` (deprecated; `::` and `::1` excepted), NAT64 `64:ff9b::/96`
/// (RFC 6052), 6to4 `2002:aabb:ccdd::/48` (RFC 3056).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = v6.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback())
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        Some(low)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.octets()[0] == 0 || v4.is_broadcast() || v4.is_multicast() || v4.is_link_local()
}

/// Whether a vantage may connect to `ip`: never to a forbidden address, and from a `public`
/// vantage only to globally routable ones (loopback stays allowed elsewhere: the lab).
pub fn may_connect(ip: IpAddr, public: bool) -> bool {
    !is_forbidden(ip) && (!public || is_global(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        let forbidden = [
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "169.254.169.254",
            "::",
            "ff02::1",
            "fe80::1",
            "::ffff:0.0.0.0",
            "::ffff:169.254.169.254",
        ];
        for a in forbidden {
            let ip: IpAddr = a.parse().unwrap();
            assert!(is_forbidden(ip), "{a} is forbidden");
            assert!(!may_connect(ip, false), "{a} never connected to");
        }
        for a in ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "8.8.8.8"] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(!is_forbidden(ip), "{a} is not forbidden");
            assert!(
                may_connect(ip, false),
                "{a} allowed on a non-public vantage"
            );
        }
        assert!(may_connect("8.8.8.8".parse().unwrap(), true));
        assert!(!may_connect("127.0.0.1".parse().unwrap(), true));
        assert!(!may_connect("10.1.2.3".parse().unwrap(), true));
        assert!(!may_connect("2001:db8::1".parse().unwrap(), true));
    }

    /// The IANA special-purpose registries' "Globally Reachable" column, at both edges of
    /// each block and just outside it.
    #[test]
    #[rustfmt::skip]
    fn special_purpose_registry() {
        let cases = [
            // (address, globally reachable)
            ("192.88.99.0", false), ("192.88.99.1", false), ("192.88.99.255", false),
            ("192.88.99.2", true), ("192.88.98.255", true), ("192.88.100.0", true),
            ("::ffff:8.8.8.8", false), ("::ffff:0:0", false), ("::fffe:808:808", true),
            ("64:ff9b:1::", false), ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false),
            ("64:ff9b:2::1", true), ("64:ff9b::8.8.8.8", true),
            ("100::", false), ("100::ffff:ffff:ffff:ffff", false), ("100:0:0:1::1", false),
            ("100:0:0:2::1", true), ("101::1", true),
            ("2001::", false), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("2001:1::1", true), ("2001:1::2", true), ("2001:1::3", true), ("2001:1::4", false),
            ("2001:2::1", false), ("2001:3::1", true), ("2001:3:ffff::1", true),
            ("2001:4:112::1", true), ("2001:4:113::1", false), ("2001:10::1", false),
            ("2001:20::1", true), ("2001:2f:ffff::1", true), ("2001:30::1", true), ("2001:3f::1", true),
            ("2001:40::1", false), ("2001:1ff:ffff::1", false), ("2001:200::1", true),
            ("2001:db8::1", false), ("2001:db9::1", true),
            ("3fff::", false), ("3fff:fff:ffff::1", false), ("3fff:1000::1", true), ("3ffe::1", true),
            ("5f00::1", false), ("5f00:ffff::1", false), ("5f01::1", true), ("5eff::1", true),
            ("2a00:1450::1", true), ("8.8.8.8", true),
        ];
        for (a, want) in cases {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(is_global(ip), want, "{a}");
            assert_eq!(may_connect(ip, true), want, "{a} from a public vantage");
        }
    }

    #[test]
    fn ipv6_addresses_that_reach_ipv4_are_judged_by_it() {
        for a in [
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "::127.0.0.1",
            "::10.1.2.3",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "fec0::1",
            "::ffff:192.168.1.1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(!is_global(ip), "{a} is not global");
            assert!(!may_connect(ip, true), "{a} not from a public vantage");
        }
        for a in [
            "64:ff9b::8.8.8.8",
            "::8.8.8.8",
            "2002:808:808::1",
            "2a00:1450::1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(is_global(ip), "{a} is global");
        }
        for a in ["64:ff9b::169.254.169.254", "2002:a9fe:a9fe::1", "::0.1.2.3"] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(is_forbidden(ip), "{a} is forbidden");
        }
    }
}
