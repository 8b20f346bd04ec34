//! `check`: a one-shot checklist for people setting up federation, rendered from the reports
//! `store::check` probed and judged. Exit status 0 when every check passed (info findings
//! aside), 1 with a failed warning, 2 with a failed critical check, 3 when a domain could
//! not be looked at (the monitoring-plugin convention for UNKNOWN).

use std::fmt::Write;

use super::evidence;
use crate::judge::pairs::{Judged, Pair};
use crate::judge::{DomainReport, Severity, State};

/// 0 when every domain is ok, 1 when the worst is a warning, 2 with a failed critical check,
/// 3 when the worst is that some vantage could not look (`unknown`, as monitoring plugins
/// say UNKNOWN): a failed check outranks it, since that is evidence.
pub fn exit_status(reports: &[DomainReport]) -> i32 {
    match reports.iter().map(|r| r.state).min() {
        Some(State::Failing) => 2,
        Some(State::Warning) => 1,
        Some(State::Unknown) => 3,
        _ => 0,
    }
}

/// How to print the checklist for people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// Print the facts behind the verdicts under each vantage (`--verbose`).
    pub verbose: bool,
    /// ANSI colours (a terminal, and `NO_COLOR` unset).
    pub colour: bool,
}

impl TextStyle {
    /// Colour only on a terminal, never when piped, and never with `NO_COLOR` set to anything
    /// non-empty (no-color.org).
    pub fn detect(
        verbose: bool,
        is_terminal: bool,
        no_color: Option<&std::ffi::OsStr>,
    ) -> TextStyle {
        TextStyle {
            verbose,
            colour: is_terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Makes text from the network safe for a terminal: control characters (C0, DEL, C1) become
/// visible escapes (`\x1b`), so a certificate name cannot move the cursor or recolour output.
pub fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control();
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// "Federation with <tenant>:" and both directions per vantage, each with its reason and
/// what to do: how a partner's checklist opens.
fn federation_text(out: &mut String, r: &DomainReport, verdicts: &[Pair], style: TextStyle) {
    if verdicts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            "1",
            &format!(
                "Federation of tenant {} with {}:",
                escape_control(&r.tenant),
                escape_control(&r.domain)
            )
        )
    );
    for p in verdicts {
        let x = &p.readiness;
        let word = if x.ready {
            style.paint("32", "ready")
        } else {
            style.paint("1;31", "NOT READY")
        };
        let _ = writeln!(
            out,
            "  {:<8} from {}: {word}{} – {}",
            p.direction.as_str(),
            escape_control(&p.vantage),
            x.reason
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default(),
            escape_control(&x.message)
        );
        if !x.hint.is_empty() {
            let _ = writeln!(out, "           -> {}", escape_control(&x.hint));
        }
    }
    out.push('\n');
}

/// The reports with their pair verdicts (`verdicts[i]` of `reports[i]`, as `store::check`
/// decided them), as `check --output=json` prints them.
pub fn json<'a>(reports: &'a [DomainReport], verdicts: &'a [Vec<Pair>]) -> Vec<Judged<'a>> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| Judged {
            report: r,
            federation_ready: verdicts.get(i).map(|v| v.as_slice()).unwrap_or_default(),
        })
        .collect()
}

/// The human-readable checklist, plain.
pub fn text(reports: &[DomainReport], verdicts: &[Vec<Pair>]) -> String {
    styled(reports, verdicts, TextStyle::default(), now())
}

fn now() -> i64 {
    crate::facts::unix(std::time::SystemTime::now()) as i64
}

/// The human-readable checklist, with the facts when `style.verbose`, coloured when
/// `style.colour`; `now` (Unix seconds) for days left and probe ages.
pub fn styled(
    reports: &[DomainReport],
    verdicts: &[Vec<Pair>],
    style: TextStyle,
    now: i64,
) -> String {
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        let pairs = verdicts.get(i).map(|v| v.as_slice()).unwrap_or_default();
        federation_text(&mut out, r, pairs, style);
        for v in &r.vantages {
            let _ = writeln!(
                out,
                "{} ({}, tenant {}) from {}",
                style.paint("1", &escape_control(&r.domain)),
                r.role.as_str(),
                escape_control(&r.tenant),
                escape_control(&v.vantage)
            );
            if let Some(b) = v.blind {
                let _ = writeln!(
                    out,
                    "[{}] could not look from this vantage: {} (the exporter's own trouble)",
                    style.paint("35", " UNKN "),
                    evidence::blind_text(b)
                );
            } else if v.findings.is_empty() {
                let _ = writeln!(out, "  no check applies (nothing could be gathered)");
            }
            for f in &v.findings {
                let (mark, colour) = if f.passed {
                    ("  ok  ", "32")
                } else {
                    match f.severity {
                        Severity::Critical => (" CRIT ", "1;31"),
                        Severity::Warning => (" WARN ", "33"),
                        Severity::Info => (" info ", "2"),
                    }
                };
                let _ = writeln!(
                    out,
                    "[{}] {:<24} {}",
                    style.paint(colour, mark),
                    f.check.as_str(),
                    escape_control(&f.message)
                );
                if !f.passed {
                    // Why, whose move, what to do: the judge's words (reason, owner, hint).
                    let why = match (f.reason, f.owner) {
                        (Some(r), Some(o)) => format!("{}, {}", r.as_str(), o.words()),
                        (Some(r), None) => r.as_str().to_string(),
                        (None, Some(o)) => o.words().to_string(),
                        (None, None) => String::new(),
                    };
                    let _ = writeln!(
                        out,
                        "         {:<24} -> [{why}] {}",
                        "",
                        escape_control(&f.hint)
                    );
                }
            }
            if style.verbose {
                let _ = writeln!(out, "  {}", style.paint("1", "facts:"));
                for l in evidence::vantage_lines(v, now) {
                    let text = format!("{}: {}", l.label, escape_control(&l.text));
                    let _ = writeln!(
                        out,
                        "    {}{}",
                        "  ".repeat(l.depth),
                        if l.failed {
                            style.paint("31", &text)
                        } else {
                            text
                        }
                    );
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expose::overview::tests::{domain, report};
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(TextStyle::detect(false, true, None).colour);
        assert!(!TextStyle::detect(false, false, None).colour);
        assert!(!TextStyle::detect(false, true, Some(OsStr::new("1"))).colour);
        assert!(TextStyle::detect(false, true, Some(OsStr::new(""))).colour);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(escape_control("sip.a.example"), "sip.a.example");
        assert_eq!(
            escape_control("evil\x1b[2J\r\nname\x7f\u{9b}"),
            "evil\\x1b[2J\\x0d\\x0aname\\x7f\\x9b"
        );
        let d = domain("t", "x.example");
        let mut r = (*report(&d, crate::judge::State::Failing)).clone();
        r.vantages[0].findings[0].message = "bad \x1b]0;title\x07".into();
        let out = styled(
            &[r],
            &[],
            TextStyle {
                verbose: true,
                colour: false,
            },
            0,
        );
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("bad \\x1b]0;title\\x07"), "{out}");
    }

    #[test]
    fn verbose_prints_the_facts_and_colour_is_ansi() {
        let d = domain("t", "x.example");
        let r = (*report(&d, crate::judge::State::Failing)).clone();
        let plain = styled(
            std::slice::from_ref(&r),
            &[],
            TextStyle {
                verbose: false,
                colour: false,
            },
            0,
        );
        assert!(!plain.contains("facts:"));
        assert!(plain.contains("[ CRIT ] tcp_connect"), "{plain}");
        // Why, whose move and what to do, on the line under the failing check.
        assert!(
            plain.contains("-> [timeout, the partner's move] h\n"),
            "{plain}"
        );
        let verbose = styled(
            std::slice::from_ref(&r),
            &[],
            TextStyle {
                verbose: true,
                colour: false,
            },
            0,
        );
        assert!(
            verbose.contains("  facts:\n    Probe: started 1970-01-01 00:00:00 UTC"),
            "{verbose}"
        );
        let coloured = styled(
            &[r],
            &[],
            TextStyle {
                verbose: false,
                colour: true,
            },
            0,
        );
        assert!(
            coloured.contains("[\x1b[1;31m CRIT \x1b[0m]"),
            "{coloured:?}"
        );
    }
}
