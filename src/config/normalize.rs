//! Normalisers: user-written names and durations to their one canonical form.

use std::time::Duration;

use super::schema::MAX_DURATION;

/// Percent-decoding of URL userinfo; `None` when malformed or not UTF-8.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Turns a user-written domain name into lower-case ASCII without trailing dot, converting
/// internationalised names to punycode and rejecting anything that is not a valid host name.
pub fn normalize_domain(input: &str) -> Result<String, String> {
    let trimmed = input.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(format!("invalid domain name {input:?}: empty"));
    }
    let ascii = idna::domain_to_ascii(trimmed)
        .map_err(|_| format!("invalid domain name {input:?}: not a valid (IDN) host name"))?;
    if ascii.len() > 253 {
        return Err(format!(
            "invalid domain name {input:?}: longer than 253 characters"
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "invalid domain name {input:?}: expected at least two labels (like example.com)"
        ));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(format!("invalid domain name {input:?}: empty label"));
        }
        if label.len() > 63 {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} is longer than 63 characters"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} may only contain letters, digits and '-'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "invalid domain name {input:?}: label {label:?} starts or ends with '-'"
            ));
        }
    }
    // An all-numeric top-level label is an IPv4 literal (or one of its short forms, 127.1),
    // never a domain (RFC 3696 §2): SRV lookups under it would be nonsense, and `/probe`
    // must not become a way to point the exporter at an address.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "invalid domain name {input:?}: an IP address is not a domain"
        ));
    }
    Ok(ascii)
}

/// Parses Prometheus-style durations: `500ms`, `15s`, `5m`, `1h`, `1d`, or combinations (`1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}: expected e.g. 500ms, 15s, 5m, 1h");
    let too_long = || format!("invalid duration {s:?}: longer than 100 years");
    if s.is_empty() {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_secs = match unit {
            "ms" => None,
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86400),
            _ => return Err(err()),
        };
        let part = match unit_secs {
            None => Some(Duration::from_millis(n)),
            Some(k) => n.checked_mul(k).map(Duration::from_secs),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idn_becomes_punycode_and_names_are_normalised() {
        assert_eq!(
            normalize_domain("Zahnärzte.DE.").unwrap(),
            "xn--zahnrzte-3za.de"
        );
        assert_eq!(
            normalize_domain("xphone.zahnfee.de").unwrap(),
            "xphone.zahnfee.de"
        );
        assert!(normalize_domain("localhost").is_err());
        assert!(normalize_domain("-a.de").is_err());
        for ip in [
            "127.0.0.1",
            "10.1.2.3.",
            "127.1",
            "::1",
            "[::1]",
            "64:ff9b::7f00:1",
        ] {
            assert!(normalize_domain(ip).is_err(), "{ip}");
        }
        assert_eq!(
            normalize_domain("127.0.0.1").unwrap_err(),
            "invalid domain name \"127.0.0.1\": an IP address is not a domain"
        );
        assert_eq!(normalize_domain("1.example").unwrap(), "1.example");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
    }
}
