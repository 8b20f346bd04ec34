//! Address classification shared by gathering (where the exporter may connect) and judging
//! (`target_public_address`): one rule, so what is judged is what was looked at.

use std::net::{IpAddr, Ipv4Addr};

/// Whether `ip` is globally routable: not private, loopback, link-local, shared (CGNAT),
/// documentation, benchmarking, reserved, multicast or unspecified.
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
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !is_global(IpAddr::V4(v4))))
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
                || v6.to_ipv4_mapped().is_some_and(forbidden_v4)
        }
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
}
