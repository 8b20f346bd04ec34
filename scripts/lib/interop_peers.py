"""Real peers of scripts/test-interop.sh: Kamailio answering OPTIONS by the From domain behind
stunnel (client certificates verified), a pool with a dead address and a dead preferred target
with a live backup (dnsmasq SRV priorities). Judges what `check` (text and JSON), /metrics and
/probe say about them. Prints "ok   ..." / "FAIL ..." lines for scripts/lib/checks.sh's tally;
counts nothing itself.

Usage: interop_peers.py DIR   (DIR holds report.json, metrics.txt, probe-<domain>.txt,
check-<domain>.txt and .rc from per-domain text runs, kamailio-policy.log)
"""
import json
import os
import re
import sys

DIR = sys.argv[1]
ALLOWED = "allowed.interop.test"
BLOCKED = "blocked.interop.test"


def read(name):
    with open(os.path.join(DIR, name)) as f:
        return f.read()


def say(good, text):
    print(("ok   " if good else "FAIL ") + text)


REPORTS = json.loads(read("report.json"))
FINDINGS = {r["domain"]: {f["check"]: f for v in r["vantages"] for f in v["findings"]}
            for r in REPORTS}


def finding(domain, check):
    return FINDINGS.get(domain, {}).get(check)


def shown(f):
    if f is None:
        return "absent"
    return ("pass" if f["passed"] else f"fail {f['reason']}") + f" ({f['severity']}): {f['message']}"


def expect(domain, check, ok, reason=None, severity=None, says=()):
    """The `check` JSON's finding: passed or failed with `reason`, of `severity`, its message
    holding every text of `says`."""
    f = finding(domain, check)
    good = (f is not None and f["passed"] == ok and (reason is None or f["reason"] == reason)
            and (severity is None or f["severity"] == severity)
            and all(s in f["message"] for s in says))
    want = "pass" if ok else f"fail {reason}"
    if severity:
        want += f" ({severity})"
    if says:
        want += f" saying {list(says)}"
    say(good, f"{domain} {check}: want {want}, got {shown(f)}")


def absent(domain, check):
    f = finding(domain, check)
    say(f is None, f"{domain} {check}: want absent, got {shown(f)}")


def samples(text, family):
    """{labels dict as sorted tuple: value} of one metric family in exposition text."""
    pattern = re.compile(r"^" + re.escape(family) + r"\{(.*)\} (\S+)$")
    out = []
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            out.append((dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))), float(m.group(2))))
    return out


def metric(view, text, domain, family, want, **labels):
    """Every sample of `family` for `domain` (and `labels`) has value `want`, and there is one."""
    got = [v for l, v in samples(text, family)
           if l.get("domain") == domain and all(l.get(k) == w for k, w in labels.items())]
    good = bool(got) and all(v == want for v in got)
    sel = ",".join([f'domain="{domain}"'] + [f'{k}="{w}"' for k, w in labels.items()])
    say(good, f"{view} {family}{{{sel}}} = {want:g}, got {got}")


def no_metric(view, text, domain, family):
    got = [v for l, v in samples(text, family) if l.get("domain") == domain]
    say(not got, f"{view} has no {family} for {domain}, got {got}")


def both_views(domain, fn, *args, **labels):
    fn("/metrics", read("metrics.txt"), domain, *args, **labels)
    fn(f"/probe?target={domain}", read(f"probe-{domain}.txt"), domain, *args, **labels)


def text_check(domain, want_rc, lines):
    """`check DOMAIN` (text): its exit status, and for each (mark, check, words) a line
    `[mark] check ...` holding every one of words."""
    rc = int(read(f"check-{domain}.rc"))
    out = read(f"check-{domain}.txt")
    say(rc == want_rc, f"check {domain}: exit status {rc}, want {want_rc}")
    for mark, check, words in lines:
        hit = [l for l in out.splitlines() if re.match(r"^\[" + re.escape(mark) + r"\] " + check + r"\s", l)]
        good = len(hit) == 1 and all(w in hit[0] for w in words)
        say(good, f"check {domain}: [{mark}] {check} line holding {list(words)}, got {hit}")


def outbound_ready(domain, want):
    got = [p["ready"] for r in REPORTS if r["domain"] == domain
           for p in r["federation_ready"] if p["direction"] == "outbound"]
    say(got == [want], f"{domain} outbound ready {want} in check JSON, got {got}")
    both_views(domain, metric, "sipfed_federation_ready", 1.0 if want else 0.0, direction="outbound")


# --- Acceptance by the From domain: Kamailio routes on $fd behind stunnel (verify, require) ---
# Allowed domain: 200; the request passed stunnel's certificate check and Kamailio's policy.
for c in ["client_cert_accepted", "sip_options"]:
    expect("accept.test", c, True)
expect("accept.test", "sip_accepts_us", True, severity="critical", says=[ALLOWED])
both_views("accept.test", metric, "sipfed_check_success", 1.0, check="sip_accepts_us")
both_views("accept.test", metric, "sipfed_sip_options_status_code", 200.0)
both_views("accept.test", no_metric, "sipfed_sip_ms_diagnostics_code")
outbound_ready("accept.test", True)
text_check("accept.test", 0, [("  ok  ", "sip_accepts_us", [ALLOWED]),
                              ("  ok  ", "client_cert_accepted", [])])
# Allowed domain, unknown user: 404 passed the federation layer, so it accepts us.
expect("nouser.test", "sip_accepts_us", True, severity="critical")
both_views("nouser.test", metric, "sipfed_check_success", 1.0, check="sip_accepts_us")
both_views("nouser.test", metric, "sipfed_sip_options_status_code", 404.0)
text_check("nouser.test", 0, [("  ok  ", "sip_accepts_us", [ALLOWED])])
# Any other From domain: 403 with ms-diagnostics 1034, over a client certificate stunnel took.
expect("refuse.test", "client_cert_accepted", True)
expect("refuse.test", "sip_options", True)
expect("refuse.test", "sip_accepts_us", False, "sip_refused", "critical",
       says=[BLOCKED, "403 Forbidden", "ms-diagnostics 1034", "sip.policy.test"])
both_views("refuse.test", metric, "sipfed_check_success", 0.0, check="sip_accepts_us")
both_views("refuse.test", metric, "sipfed_sip_ms_diagnostics_code", 1034.0)
both_views("refuse.test", metric, "sipfed_sip_options_status_code", 403.0)
outbound_ready("refuse.test", False)
text_check("refuse.test", 2, [("  ok  ", "sip_options", []),
                              (" CRIT ", "sip_accepts_us", [BLOCKED, "403", "ms-diagnostics 1034"])])
# A certificate from a CA stunnel does not trust: refused in TLS, so nothing about SIP.
expect("stranger.test", "client_cert_accepted", False, "client_cert_rejected")
absent("stranger.test", "sip_options")
absent("stranger.test", "sip_accepts_us")
# Both tenants' From domains reached the one edge, each over its own connection.
log = read("kamailio-policy.log")
for d, rd in [(ALLOWED, "accept.test"), (ALLOWED, "nouser.test"), (BLOCKED, "refuse.test")]:
    say(f"policy: OPTIONS from sipfed-monitor@{d} to {rd}" in log,
        f"the policy edge got OPTIONS From: sipfed-monitor@{d} for {rd}")
say(f"@{BLOCKED} to accept.test" not in log and f"@{ALLOWED} to refuse.test" not in log,
    "each tenant's OPTIONS carry its own sip_from, never another's")

# --- Failover as partners' edges do it ------------------------------------------------------
# A pool of two addresses, one closed: edges fail over within the target, a warning.
expect("pool.test", "tcp_connect", True, severity="critical")
expect("pool.test", "tls_handshake", True)
expect("pool.test", "edge_redundancy", False, "connection_refused", "warning", says=["sip.pool.test"])
expect("pool.test", "sip_accepts_us", True)
both_views("pool.test", metric, "sipfed_check_success", 1.0, check="tcp_connect")
both_views("pool.test", metric, "sipfed_check_success", 0.0, check="edge_redundancy")
outbound_ready("pool.test", True)
text_check("pool.test", 1, [("  ok  ", "tcp_connect", []), (" WARN ", "edge_redundancy", ["sip.pool.test"])])
# The preferred target (priority 10) dead, the backup (priority 20) alive: edges never fall
# back to a higher priority value, so this breaks federation.
expect("backup.test", "tcp_connect", False, "connection_refused", "critical", says=["sip.backup.test"])
expect("backup.test", "edge_redundancy", True)
both_views("backup.test", metric, "sipfed_check_success", 0.0, check="tcp_connect")
both_views("backup.test", metric, "sipfed_check_success", 1.0, check="edge_redundancy")
outbound_ready("backup.test", False)
text_check("backup.test", 2, [(" CRIT ", "tcp_connect", ["sip.backup.test"])])
