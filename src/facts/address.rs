//! Address classification shared by gathering (where the exporter may connect) and judging
//! (`target_public_address`): one rule, so what is judged is what was looked at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is globally routable: not private, loopback, link-local, shared (CGNAT),
/// documentation, benchmarking, reserved, multicast or unspecified; nor an IPv6 address that
/// reaches such an IPv4 address (IPv4-mapped, IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`), nor deprecated site-local `fec0::/10`.
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
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] & 0xffc0) == 0xfec0
                || embedded_v4(v6).is_some_and(|v4| !is_global(IpAddr::V4(v4))))
        }
    }
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
