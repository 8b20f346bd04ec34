// Settings of the sipfed_exporter monitoring mixin. Override any of them in your own jsonnet:
//
//   (import 'sipfed_exporter/mixin/mixin.libsonnet') + { _config+:: { sipfedSelector: 'job="sipfed"' } }
//
// The bundled alerts/sipfed.rules.yml and dashboards/*.json are these defaults, rendered by
// scripts/gen-mixin.sh.
{
  _config+:: {
    // Selects the exporter's scrape jobs: SipFedExporterDown/Absent and the dashboards' `job`
    // variable. The sipfed_* metrics are the exporter's own, so the other alerts need no job
    // matcher.
    sipfedSelector: 'job=~".*sipfed.*"',

    // Where the runbooks live; an alert's anchor is its name in lower case. The exporter serves
    // the same runbooks with the same anchors at its own /runbooks: point this at
    // 'http://<exporter>:9861/runbooks' for links that work without the code host.
    runbookBaseURL: 'https://github.com/sipfed/sipfed_exporter/blob/main/docs/runbooks.md',

    // The conventional vantage names of the SPEC: `inside` (your network, outbound to peers)
    // and `outside` (the internet, inbound to you). The endpoint alerts depend on them.
    insideVantage: 'inside',
    outsideVantage: 'outside',

    // Certificate windows, by lifetime L = notAfter - notBefore:
    //   warning  remaining < min(certWarningDays, L / certWarningLifetimeDivisor)
    //   critical remaining < min(certCriticalDays, L / certCriticalLifetimeDivisor)
    // certWarningDays should equal the exporter's global.cert_warning_days.
    certWarningDays: 21,
    certWarningLifetimeDivisor: 4,
    certCriticalDays: 7,
    certCriticalLifetimeDivisor: 12,

    // SipFedProbesStale: a probe older than this many probe intervals.
    probesStaleIntervals: 3,

    // How long a vantage may be down (its resolvers or proxy not answering) before it pages.
    vantageDownFor: '5m',

    // When set (a duration such as '4s'), every alert's `for:` is replaced by it. For tests
    // only: scripts/e2e-prometheus.sh renders the rules with a short one to see them fire and
    // reach Alertmanager within seconds. Empty: each alert keeps its own `for:`.
    forOverride: '',

    // Dashboards.
    dashboardTags: ['sipfed', 'sip', 'federation'],
    dashboardRefresh: '1m',
    dashboardTimezone: '',
  },
}
