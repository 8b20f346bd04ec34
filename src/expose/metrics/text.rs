//! The text exposition format: family headers, samples, label sets and escaping.

use std::fmt::Write;

use crate::judge::{DomainReport, VantageReport};

/// Characters of a certificate label value (`subject_cn`, `issuer_cn`, `serial`) at most; longer
/// values are cut (the full value is on the status page).
pub const MAX_CERT_LABEL_CHARS: usize = 64;

/// `value` cut to `MAX_CERT_LABEL_CHARS` characters.
pub(super) fn cut(value: &str) -> &str {
    match value.char_indices().nth(MAX_CERT_LABEL_CHARS) {
        Some((i, _)) => &value[..i],
        None => value,
    }
}

/// `name="value"`, escaped.
pub(super) fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    escape(out, value);
    out.push('"');
}

/// `tenant="..",domain=".."`.
pub(super) fn tenant_domain_labels(out: &mut String, tenant: &str, domain: &str) {
    out.push_str("tenant=\"");
    escape(out, tenant);
    out.push_str("\",domain=\"");
    escape(out, domain);
    out.push('"');
}

/// `tenant="..",domain="..",vantage=".."`.
pub(super) fn domain_labels(out: &mut String, d: &DomainReport, v: &VantageReport) {
    tenant_domain_labels(out, &d.tenant, &d.domain);
    out.push_str(",vantage=\"");
    escape(out, &v.vantage);
    out.push('"');
}

/// The labels an endpoint adds to its probe's.
pub(super) fn endpoint_labels(out: &mut String, target: &str, address: &str) {
    out.push_str(",target=\"");
    escape(out, target);
    out.push_str("\",address=\"");
    escape(out, address);
    out.push('"');
}

/// The `# HELP` and `# TYPE` lines of a family.
pub(super) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample: `name{labels,extra} value`, the value printed as Prometheus reads it.
pub(super) fn sample(
    out: &mut String,
    name: &str,
    labels: impl FnOnce(&mut String),
    extra: &[(&str, &str)],
    value: f64,
) {
    out.push_str(name);
    out.push('{');
    labels(out);
    for (k, v) in extra {
        out.push(',');
        out.push_str(k);
        out.push_str("=\"");
        escape(out, v);
        out.push('"');
    }
    out.push_str("} ");
    if value == 0.0 {
        out.push('0');
    } else if value == 1.0 {
        out.push('1');
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Timestamps and status codes: integer formatting, the same digits as f64's.
        let _ = write!(out, "{}", value as i64);
    } else if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        out.push_str("NaN");
    }
    out.push('\n');
}

/// Label value escaping of the text exposition format.
pub(super) fn escape(out: &mut String, v: &str) {
    // Most values need no escaping: copy them whole.
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_prometheus_reads_them() {
        let line = |v: f64| {
            let mut s = String::new();
            sample(&mut s, "m", |o| o.push_str("a=\"b\""), &[], v);
            s
        };
        assert_eq!(line(0.0), "m{a=\"b\"} 0\n");
        assert_eq!(line(1.0), "m{a=\"b\"} 1\n");
        assert_eq!(line(200.0), "m{a=\"b\"} 200\n");
        assert_eq!(line(1_800_000_000.0), "m{a=\"b\"} 1800000000\n");
        assert_eq!(line(-5.0), "m{a=\"b\"} -5\n");
        assert_eq!(line(0.0125), "m{a=\"b\"} 0.0125\n");
        assert_eq!(line(1_800_000_000.25), "m{a=\"b\"} 1800000000.25\n");
        assert_eq!(line(1e300), format!("m{{a=\"b\"}} {}\n", 1e300));
        assert_eq!(line(f64::NAN), "m{a=\"b\"} NaN\n");
    }

    #[test]
    fn escapes_label_values() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
