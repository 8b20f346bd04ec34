"""The on-call assertions of scripts/test-browser.sh (issue 32): every failing check on the
rendered status page says why (its reason) and whose move it is (its owner), with the hint as
its hover title; the expired partner's page shows its one fault once, led by what to do; the
API's failing checks carry hint and owner.

Usage: python3 scripts/lib/why_who.py DIR   (DIR holds index.html, expired.html, list.json as
dumped by test-browser.sh); prints "ok   ..." / "FAIL ..." lines for scripts/lib/checks.sh.
"""
import json
import os
import sys
from html.parser import HTMLParser

OWNER_WORDS = {"ours": "our move", "partner": "the partner's move", "vantage": "this vantage's network"}


class Failing(HTMLParser):
    """Failing checks of a rendered page: on the status page the spans `class="fail ..."` of
    each domain row with their `small.why` text; on a domain page the rows of `table#failing`
    and every `tr[data-check]` anywhere (to count how often a check is shown)."""

    def __init__(self):
        super().__init__()
        self.domain = None
        self.spans = []  # [domain, attrs, why text]
        self.why = None
        self.in_failing_table = False
        self.todo = []  # attrs of the rows of table#failing
        self.rows = []  # data-check of every tr[data-check]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-domain" in a:
            self.domain = a["data-domain"]
        if tag == "span" and "fail" in a.get("class", "").split() and self.domain:
            self.spans.append([self.domain, a, ""])
        if tag == "small" and a.get("class") == "why" and self.spans:
            self.why = self.spans[-1]
        if tag == "table":
            self.in_failing_table = a.get("id") == "failing"
        if tag == "tr" and "data-check" in a:
            self.rows.append(a["data-check"])
            if self.in_failing_table:
                self.todo.append(a)

    def handle_endtag(self, tag):
        if tag == "small":
            self.why = None
        if tag == "table":
            self.in_failing_table = False

    def handle_data(self, data):
        if self.why is not None:
            self.why[2] += data


def parse(path):
    p = Failing()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def expect(what, ok):
    print(("ok   " if ok else "FAIL ") + what)


def status_page(p):
    """Every failing check of every row: a reason, an owner in words, the hint as title."""
    expect(f"the status page shows failing checks ({len(p.spans)})", len(p.spans) > 0)
    bad = []
    for domain, a, why in p.spans:
        reason, owner, hint = a.get("data-reason", ""), a.get("data-owner", ""), a.get("title", "")
        words = OWNER_WORDS.get(owner)
        if not reason or not words or not hint.strip() or reason not in why or words not in why:
            bad.append(f"{domain}:{a.get('data-check')} reason={reason!r} owner={owner!r} why={why!r}")
    expect(f"every failing check on the status page says why and whose move, hint on hover (bad: {bad[:3]})",
           not bad)


def expired_page(p):
    """One fault, one finding: the expired certificate is cert_valid_now's, once, first."""
    checks = [a["data-check"] for a in p.todo]
    expect(f"the expired partner's page leads with what to do (rows {checks})", bool(checks))
    expect("the expired certificate is one finding: cert_valid_now once, no cert_expiry",
           p.rows.count("cert_valid_now") == 1 and "cert_expiry" not in p.rows)
    expect("each failing check shown once on the expired partner's page", len(checks) == len(set(checks)))
    valid = [a for a in p.todo if a["data-check"] == "cert_valid_now"]
    expect("the expired certificate is the partner's move", bool(valid) and valid[0].get("data-owner") == "partner")


def api(path):
    with open(path, encoding="utf-8") as f:
        lst = json.load(f)
    failing = [c for d in lst["domains"] for v in d["vantages"] for c in v["failing_checks"]]
    bad = [c["check"] for c in failing if not c.get("hint") or c.get("owner") not in OWNER_WORDS]
    expect(f"the API's {len(failing)} failing checks carry hint and owner (bad: {bad[:3]})",
           bool(failing) and not bad)


def main(d):
    status_page(parse(os.path.join(d, "index.html")))
    expired_page(parse(os.path.join(d, "expired.html")))
    api(os.path.join(d, "list.json"))


if __name__ == "__main__":
    main(sys.argv[1])
