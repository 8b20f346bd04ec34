"""DNSSEC against real servers for scripts/test-interop.sh: Knot serves the lab parent sec.test
(signed, publishing its children's DS) and four children, Unbound validates them from a trust
anchor for sec.test with Extended DNS Errors on:

  good.sec.test      signed by Knot (ECDSAP256SHA256, automatic signing)
  expired.sec.test   pre-signed by ldns-signzone, signatures expired 2020-01-01
  dsbad.sec.test     signed by Knot, the parent's DS names a key the zone does not have
  expiring.sec.test  our own zone (role own), pre-signed 20 days ago, expiring in 20 hours

Judges `check --output=json` through Unbound (validating), through Knot itself and through
dnsmasq forwarding to Knot (neither validates: our own validation must still fail the bogus
zones), and a served exporter with
both as vantages (`validating`, `plain`): /metrics and /probe; and `check` with
`global.dnssec: false` through Knot (off: the DNSSEC checks absent). Prints "ok   ..." / "FAIL ..."
lines for scripts/lib/checks.sh's tally; counts nothing itself.

Usage: interop_dnssec.py DIR   (DIR holds dnssec-{unbound,knot,fwd,off}-<domain>.{json,rc},
dnssec-metrics.txt, dnssec-probe-<domain>.txt, expiring-at.txt, unbound.log)
"""
import json
import os
import re
import sys
import time

DIR = sys.argv[1]
NOW = time.time()
DAY = 86400


def read(name):
    with open(os.path.join(DIR, name)) as f:
        return f.read()


def say(good, text):
    print(("ok   " if good else "FAIL ") + text)


def shown(f):
    if f is None:
        return "absent"
    return ("pass" if f["passed"] else f"fail {f['reason']}") + f" ({f['severity']}): {f['message']}"


def findings(via, domain):
    try:
        reports = json.loads(read(f"dnssec-{via}-{domain}.json"))
    except (OSError, ValueError) as e:
        say(False, f"check via {via} {domain}: JSON report readable ({e})")
        return {}
    return {f["check"]: f for r in reports if r["domain"] == domain
            for v in r["vantages"] for f in v["findings"]}


def expect(via, domain, check, ok, reason=None, says=()):
    f = findings(via, domain).get(check)
    good = (f is not None and f["passed"] == ok and (reason is None or f["reason"] == reason)
            and all(s in f["message"] for s in says))
    want = ("pass" if ok else f"fail {reason}") + (f" saying {list(says)}" if says else "")
    say(good, f"check via {via}: {domain} {check}: want {want}, got {shown(f)}")


def absent(via, domain, check):
    f = findings(via, domain).get(check)
    say(f is None, f"check via {via}: {domain} {check}: want absent, got {shown(f)}")


def exit_status(via, domain, want):
    rc = int(read(f"dnssec-{via}-{domain}.rc"))
    say(rc == want, f"check via {via} {domain}: exit status {rc}, want {want}")


def samples(text, family):
    pattern = re.compile(r"^" + re.escape(family) + r"\{(.*)\} (\S+)$")
    out = []
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            out.append((dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))), float(m.group(2))))
    return out


def values(text, family, domain, vantage, **labels):
    return [v for l, v in samples(text, family)
            if l.get("domain") == domain and l.get("vantage") == vantage
            and all(l.get(k) == w for k, w in labels.items())]


def views(domain):
    return [("/metrics", read("dnssec-metrics.txt")),
            (f"/probe?target={domain}", read(f"dnssec-probe-{domain}.txt"))]


def metric(domain, vantage, family, want, **labels):
    """One sample of `family` for (domain, vantage, labels) in /metrics and in /probe, and
    `want(value)` holds for it (a value or a predicate)."""
    test = want if callable(want) else (lambda v: v == want)
    for view, text in views(domain):
        got = values(text, family, domain, vantage, **labels)
        sel = ",".join([f'domain="{domain}"', f'vantage="{vantage}"']
                       + [f'{k}="{w}"' for k, w in labels.items()])
        what = want.__doc__ if callable(want) else f"= {want:g}"
        say(len(got) == 1 and test(got[0]), f"{view} {family}{{{sel}}} {what}, got {got}")


def no_metric(domain, vantage, family):
    for view, text in views(domain):
        got = values(text, family, domain, vantage)
        say(not got, f"{view} has no {family} for {domain} on {vantage}, got {got}")


def within(lo, hi, doc):
    def test(v):
        return lo <= v <= hi
    test.__doc__ = doc
    return test


def ds_tags():
    """{zone: [key tag]} of the DS records the parent's zone file publishes."""
    tags = {}
    for line in read("knot/sec.test.zone").splitlines():
        f = line.split()
        if "DS" in f and f.index("DS") + 1 < len(f):
            tags.setdefault(f[0].rstrip("."), []).append(f[f.index("DS") + 1])
    return tags


DS = ds_tags()
DSBAD_OWN = read("dsbad-own-ds.txt").split()[2]


def vantage_up(vantage):
    for view, text in views("good.sec.test")[:1]:
        got = [v for l, v in samples(text, "sipfed_vantage_up") if l.get("vantage") == vantage]
        say(got == [1.0], f"{view} sipfed_vantage_up{{vantage=\"{vantage}\"}} = 1 (its health "
            f"query proves recursion through Knot's root), got {got}")


vantage_up("validating")
vantage_up("plain")

# Knot signs with a 14-day RRSIG lifetime (its default) from the moment it loaded the zone.
knot_expiry = within(NOW + 13 * DAY, NOW + 14 * DAY + 600, "within 13-14 days of now")
expiring_at = float(read("expiring-at.txt"))

# --- good.sec.test: signed by Knot, validates through Unbound and ourselves ---------------
for via in ["unbound", "knot", "fwd"]:
    expect(via, "good.sec.test", "srv_present", True)
    expect(via, "good.sec.test", "dnssec_valid", True,
           says=[f"good.sec.test (DS key tag {DS['good.sec.test'][0]})"])
    expect(via, "good.sec.test", "dnssec_signatures_fresh", True, says=["good.sec.test"])
    expect(via, "good.sec.test", "sip_options", True)
    exit_status(via, "good.sec.test", 0)
for vantage in ["validating", "plain"]:
    metric("good.sec.test", vantage, "sipfed_check_success", 1.0, check="dnssec_valid")
    metric("good.sec.test", vantage, "sipfed_check_success", 1.0, check="srv_present")
    metric("good.sec.test", vantage, "sipfed_dnssec_signed", 1.0)
    metric("good.sec.test", vantage, "sipfed_dnssec_rrsig_expiry_timestamp_seconds", knot_expiry)

# --- expired.sec.test: Unbound answers SERVFAIL with EDE 7; the CD retry makes it bogus ----
expect("unbound", "expired.sec.test", "srv_present", False, "dnssec_bogus",
       says=["does not validate (DNSSEC)", "EDE 7 (Signature Expired)"])
expect("unbound", "expired.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["expired.sec.test is bogus: signature expired", "2020-01-01"])
exit_status("unbound", "expired.sec.test", 2)
# Knot does not validate: the SRV is there, our own validation still fails the zone.
expect("knot", "expired.sec.test", "srv_present", True)
expect("knot", "expired.sec.test", "tcp_connect", True)
expect("knot", "expired.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["expired.sec.test is bogus: signature expired", "2020-01-01"])
absent("knot", "expired.sec.test", "dnssec_signatures_fresh")
exit_status("knot", "expired.sec.test", 2)
# dnsmasq forwarding to Knot does not validate either: the same verdict as Knot itself.
expect("fwd", "expired.sec.test", "srv_present", True)
expect("fwd", "expired.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["expired.sec.test is bogus: signature expired", "2020-01-01"])
exit_status("fwd", "expired.sec.test", 2)
for vantage in ["validating", "plain"]:
    metric("expired.sec.test", vantage, "sipfed_check_success", 0.0, check="dnssec_valid")
    metric("expired.sec.test", vantage, "sipfed_dnssec_signed", 1.0)
    no_metric("expired.sec.test", vantage, "sipfed_dnssec_rrsig_expiry_timestamp_seconds")
metric("expired.sec.test", "validating", "sipfed_check_success", 0.0, check="srv_present")
metric("expired.sec.test", "plain", "sipfed_check_success", 1.0, check="srv_present")

# --- dsbad.sec.test: the parent's DS names no key of the zone (EDE 9 from Unbound) ---------
expect("unbound", "dsbad.sec.test", "srv_present", False, "dnssec_bogus",
       says=["does not validate (DNSSEC)", "EDE 9 (DNSKEY Missing)"])
expect("unbound", "dsbad.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["dsbad.sec.test is bogus: no DNSKEY matches the DS",
             f"DS key tag {DS['dsbad.sec.test'][0]} at the parent, DNSKEY key tags [{DSBAD_OWN}]"])
exit_status("unbound", "dsbad.sec.test", 2)
expect("knot", "dsbad.sec.test", "srv_present", True)
expect("knot", "dsbad.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["dsbad.sec.test is bogus: no DNSKEY matches the DS"])
exit_status("knot", "dsbad.sec.test", 2)
expect("fwd", "dsbad.sec.test", "srv_present", True)
expect("fwd", "dsbad.sec.test", "dnssec_valid", False, "dnssec_bogus",
       says=["dsbad.sec.test is bogus: no DNSKEY matches the DS"])
exit_status("fwd", "dsbad.sec.test", 2)
for vantage in ["validating", "plain"]:
    metric("dsbad.sec.test", vantage, "sipfed_check_success", 0.0, check="dnssec_valid")
    metric("dsbad.sec.test", vantage, "sipfed_dnssec_signed", 1.0)
metric("dsbad.sec.test", "validating", "sipfed_check_success", 0.0, check="srv_present")
metric("dsbad.sec.test", "plain", "sipfed_check_success", 1.0, check="srv_present")

# --- expiring.sec.test: our own zone, valid for 20 more hours: a warning, not bogus --------
for via in ["unbound", "knot"]:
    expect(via, "expiring.sec.test", "dnssec_valid", True)
    exit_status(via, "expiring.sec.test", 1)
    expect(via, "expiring.sec.test", "dnssec_signatures_fresh", False, "expiring",
           says=["expiring.sec.test", "less than min(3 days"])
for vantage in ["validating", "plain"]:
    metric("expiring.sec.test", vantage, "sipfed_check_success", 1.0, check="dnssec_valid")
    metric("expiring.sec.test", vantage, "sipfed_check_success", 0.0, check="dnssec_signatures_fresh")
    metric("expiring.sec.test", vantage, "sipfed_dnssec_rrsig_expiry_timestamp_seconds", expiring_at)

# A bogus partner zone is evidence against the partner, never the vantage's trouble: both
# vantages looked (not blind), and a critical check failed exactly for the bogus zones; the
# own zone about to expire is a warning, so its probe still succeeds.
for vantage in ["validating", "plain"]:
    for domain, success in [("good.sec.test", 1.0), ("expired.sec.test", 0.0),
                            ("dsbad.sec.test", 0.0), ("expiring.sec.test", 1.0)]:
        metric(domain, vantage, "sipfed_probe_blind", 0.0)
        metric(domain, vantage, "sipfed_probe_success", success)

# global.dnssec: false: the checks are absent, nothing else changes (Knot does not validate).
absent("off", "expired.sec.test", "dnssec_valid")
absent("off", "expired.sec.test", "dnssec_signatures_fresh")
expect("off", "expired.sec.test", "srv_present", True)
exit_status("off", "expired.sec.test", 0)

# Unbound itself logged why (val-log-level 2): the two bogus zones, nothing about the others.
log = read("unbound.log")
say("validation failure <_sipfederationtls._tcp.expired.sec.test. SRV IN>: signature expired" in log,
    "unbound logged the expired zone's validation failure")
say("_sipfederationtls._tcp.good.sec.test." not in log and "expiring.sec.test. SRV" not in log,
    "unbound logged no validation failure for the good and the expiring zone")
