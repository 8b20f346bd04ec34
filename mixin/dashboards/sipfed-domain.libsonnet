// The 'SIP federation / Domain' dashboard: its own variables and panels. dashboards.libsonnet adds the
// datasource, job and instance variables, the datasource of every panel and query, and fills
// %(jobInstance)s in every expression with the job and instance matchers.
{
  uid: 'sipfed-domain',
  title: 'SIP federation / Domain',
  description: 'One federation domain in detail: check timeline, endpoints, latency per vantage, certificates, SRV records.',
  time: { from: 'now-24h', to: 'now' },
  variables: [
    {
      name: 'tenant',
      label: 'Tenant',
      query: 'label_values(sipfed_domain_info{%(jobInstance)s}, tenant)',
      multi: false,
    },
    {
      name: 'domain',
      label: 'Domain',
      query: 'label_values(sipfed_domain_info{%(jobInstance)s, tenant="$tenant"}, domain)',
      multi: false,
    },
    {
      name: 'vantage',
      label: 'Vantage',
      query: 'label_values(sipfed_probe_success{%(jobInstance)s, tenant="$tenant", domain="$domain"}, vantage)',
      multi: true,
    },
  ],
  panels: [
    {
      id: 1,
      type: 'stat',
      title: 'Probe result',
      description: 'Per vantage: OK when the probe looked and no critical check fails (sipfed_probe_success; 0 also when it could not look, sipfed_probe_blind 1: the vantage\'s trouble).',
      gridPos: { x: 0, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_probe_success{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '{{vantage}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: 'FAILING', color: 'red', index: 0 },
                '1': { text: 'OK', color: 'green', index: 1 },
              },
            },
          ],
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'background',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'value_and_name',
        wideLayout: true,
      },
    },
    {
      id: 2,
      type: 'stat',
      title: 'Last probe',
      description: 'Time since the last probe finished, per vantage.',
      gridPos: { x: 4, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'time() - sipfed_probe_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '{{vantage}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 's',
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'value_and_name',
        wideLayout: true,
      },
    },
    {
      id: 3,
      type: 'stat',
      title: 'Role / federation',
      description: 'Configured role (own, peer) and federation (open, direct).',
      gridPos: { x: 8, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_domain_info{%(jobInstance)s, tenant="$tenant", domain="$domain"}',
          legendFormat: '{{role}} · {{federation}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'none',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'name',
        wideLayout: true,
      },
    },
    {
      id: 4,
      type: 'stat',
      title: 'Platform',
      description: 'Federation platform the SRV record points to, per vantage (sipfed_platform_info).',
      gridPos: { x: 12, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_platform_info{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '{{vantage}}: {{platform}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'none',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'name',
        wideLayout: true,
      },
    },
    {
      id: 5,
      type: 'stat',
      title: 'SRV records',
      description: 'Number of _sipfederationtls._tcp SRV records, per vantage.',
      gridPos: { x: 16, y: 0, w: 3, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_srv_records{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '{{vantage}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'green', value: 1 },
            ],
          },
          color: { mode: 'thresholds' },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'value_and_name',
        wideLayout: true,
      },
    },
    {
      id: 6,
      type: 'stat',
      title: 'DNS split horizon',
      description: 'Whether vantages see different SRV or address sets (sipfed_dns_split_horizon; exposed only for domains probed from two or more vantages).',
      gridPos: { x: 19, y: 0, w: 3, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_dns_split_horizon{%(jobInstance)s, tenant="$tenant", domain="$domain"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: 'no', color: 'green', index: 0 },
                '1': { text: 'yes', color: 'orange', index: 1 },
              },
            },
          ],
          noValue: 'one vantage',
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 7,
      type: 'stat',
      title: 'Microsoft 365',
      description: 'Whether the domain shows Microsoft 365 evidence (MX, MS= TXT, lyncdiscover) (sipfed_m365_evidence).',
      gridPos: { x: 22, y: 0, w: 2, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'max(sipfed_m365_evidence{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: 'no', color: 'text', index: 0 },
                '1': { text: 'yes', color: 'blue', index: 1 },
              },
            },
          ],
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 8,
      type: 'state-timeline',
      title: 'Check state',
      description: 'Every check over time, per vantage (sipfed_check_success: pass / fail).',
      gridPos: { x: 0, y: 4, w: 24, h: 12 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_check_success{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '{{vantage}} · {{check}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: 'fail', color: 'red', index: 0 },
                '1': { text: 'pass', color: 'green', index: 1 },
              },
            },
          ],
          color: { mode: 'thresholds' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'green', value: 1 },
            ],
          },
          custom: { fillOpacity: 80, lineWidth: 0 },
        },
        overrides: [],
      },
      options: {
        mergeValues: true,
        showValue: 'never',
        alignValue: 'left',
        rowHeight: 0.85,
        legend: { displayMode: 'list', placement: 'bottom', showLegend: false },
        tooltip: { mode: 'single', sort: 'none' },
      },
    },
    {
      id: 9,
      type: 'table',
      title: 'Failing checks',
      description: 'Failing checks with severity and reason.',
      gridPos: { x: 0, y: 16, w: 12, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: '(sipfed_check_success{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} == 0)\n  * on (job, instance, tenant, domain, vantage, check) group_left (reason)\n    sipfed_check_failure_info{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}\nor on (job, instance, tenant, domain, vantage, check)\n  (sipfed_check_success{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} == 0)',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'severity' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      critical: { text: 'critical', color: 'red', index: 0 },
                      warning: { text: 'warning', color: 'orange', index: 1 },
                      info: { text: 'info', color: 'blue', index: 2 },
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
        sortBy: [
          { displayName: 'severity', desc: false },
        ],
      },
      transformations: [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, Value: true, job: true, instance: true, tenant: true, domain: true },
            indexByName: { severity: 0, vantage: 1, check: 2, reason: 3 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 10,
      type: 'table',
      title: 'Active alerts',
      description: 'SipFed alerts pending or firing for this domain (ALERTS).',
      gridPos: { x: 12, y: 16, w: 12, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: 'ALERTS{%(jobInstance)s, alertname=~"SipFed.*", tenant="$tenant", domain="$domain"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'severity' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      critical: { text: 'critical', color: 'red', index: 0 },
                      warning: { text: 'warning', color: 'orange', index: 1 },
                      info: { text: 'info', color: 'blue', index: 2 },
                    },
                  },
                ],
              },
            ],
          },
          {
            matcher: { id: 'byName', options: 'alertstate' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      firing: { text: 'firing', color: 'red', index: 0 },
                      pending: { text: 'pending', color: 'orange', index: 1 },
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
      },
      transformations: [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, Value: true, __name__: true, job: true, instance: true, tenant: true, domain: true },
            indexByName: { alertname: 0, alertstate: 1, severity: 2, vantage: 3, check: 4, target: 5, address: 6 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 11,
      type: 'table',
      title: 'Endpoints',
      description: 'Every address of every SRV target, per vantage: reachability, TCP and TLS timings, TLS version, whether the server asks for a client certificate, whether it staples an OCSP response, SIP OPTIONS. Revocation verdicts (cert_not_revoked, revocation_reachable) are in the check panels.',
      gridPos: { x: 0, y: 23, w: 24, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_endpoint_up{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'B',
          expr: 'sipfed_tcp_connect_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'C',
          expr: 'sipfed_tls_handshake_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'D',
          expr: 'sipfed_tls_version_info{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'E',
          expr: 'sipfed_tls_client_cert_requested{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'F',
          expr: 'sipfed_sip_options_status_code{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'G',
          expr: 'sipfed_sip_options_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'H',
          expr: 'sipfed_cert_ocsp_stapled{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'Value #A' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      '0': { text: 'down', color: 'red', index: 0 },
                      '1': { text: 'up', color: 'green', index: 1 },
                    },
                  },
                ],
              },
              { id: 'displayName', value: 'Up' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #B' },
            properties: [
              { id: 'displayName', value: 'TCP connect' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #C' },
            properties: [
              { id: 'displayName', value: 'TLS handshake' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #E' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      '0': { text: 'no', color: 'text', index: 0 },
                      '1': { text: 'yes', color: 'text', index: 1 },
                    },
                  },
                ],
              },
              { id: 'displayName', value: 'Client cert requested' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #F' },
            properties: [
              { id: 'displayName', value: 'OPTIONS status' },
              { id: 'unit', value: 'none' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #G' },
            properties: [
              { id: 'displayName', value: 'OPTIONS time' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #H' },
            properties: [
              {
                id: 'mappings',
                value: [
                  {
                    type: 'value',
                    options: {
                      '0': { text: 'no', color: 'text', index: 0 },
                      '1': { text: 'yes', color: 'text', index: 1 },
                    },
                  },
                ],
              },
              { id: 'displayName', value: 'OCSP stapled' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'version' },
            properties: [
              { id: 'displayName', value: 'TLS version' },
            ],
          },
        ],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
      },
      transformations: [
        {
          id: 'merge',
          options: {},
        },
        {
          id: 'organize',
          options: {
            excludeByName: {
              Time: true,
              job: true,
              instance: true,
              tenant: true,
              domain: true,
              __name__: true,
              'Value #D': true,
            },
            indexByName: {
              vantage: 0,
              target: 1,
              address: 2,
              'Value #A': 3,
              'Value #B': 4,
              'Value #C': 5,
              version: 6,
              'Value #E': 7,
              'Value #F': 8,
              'Value #G': 9,
              'Value #H': 10,
            },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 12,
      type: 'timeseries',
      title: 'Latency from $vantage',
      description: 'TCP connect, TLS handshake and SIP OPTIONS time per address, and the whole probe, as seen from this vantage. Compare the panels side by side.',
      gridPos: { x: 0, y: 30, w: 12, h: 9 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_tcp_connect_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: 'TCP {{target}} {{address}}',
          range: true,
        },
        {
          refId: 'B',
          expr: 'sipfed_tls_handshake_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: 'TLS {{target}} {{address}}',
          range: true,
        },
        {
          refId: 'C',
          expr: 'sipfed_sip_options_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: 'OPTIONS {{target}} {{address}}',
          range: true,
        },
        {
          refId: 'D',
          expr: 'sipfed_probe_duration_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: 'whole probe',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 's',
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: 0,
            showPoints: 'never',
            spanNulls: false,
            axisSoftMin: 0,
          },
          color: { mode: 'palette-classic' },
        },
        overrides: [],
      },
      options: {
        legend: {
          displayMode: 'table',
          placement: 'right',
          showLegend: true,
          calcs: ['lastNotNull', 'max'],
        },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
      repeat: 'vantage',
      repeatDirection: 'h',
      maxPerRow: 2,
    },
    {
      id: 13,
      type: 'table',
      title: 'Certificates',
      description: 'The leaf certificate served at each endpoint: names, serial, fingerprint, validity; the chain\'s earliest expiry.',
      gridPos: { x: 0, y: 39, w: 24, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_cert_info{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'B',
          expr: 'sipfed_cert_not_before_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} * 1000',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'C',
          expr: 'sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} * 1000',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'D',
          expr: 'sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} - time()',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'E',
          expr: 'sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} - sipfed_cert_not_before_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'F',
          expr: 'sipfed_cert_chain_not_after_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} * 1000',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'Value #B' },
            properties: [
              { id: 'displayName', value: 'Not before' },
              { id: 'unit', value: 'dateTimeAsIso' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #C' },
            properties: [
              { id: 'displayName', value: 'Not after' },
              { id: 'unit', value: 'dateTimeAsIso' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #D' },
            properties: [
              {
                id: 'custom.cellOptions',
                value: { type: 'color-text' },
              },
              {
                id: 'thresholds',
                value: {
                  mode: 'absolute',
                  steps: [
                    { color: 'red', value: null },
                    { color: 'orange', value: 604800 },
                    { color: 'green', value: 1814400 },
                  ],
                },
              },
              {
                id: 'color',
                value: { mode: 'thresholds' },
              },
              { id: 'displayName', value: 'Time left' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #E' },
            properties: [
              { id: 'displayName', value: 'Lifetime' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #F' },
            properties: [
              { id: 'displayName', value: 'Chain expires' },
              { id: 'unit', value: 'dateTimeAsIso' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'subject_cn' },
            properties: [
              { id: 'displayName', value: 'Subject CN' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'issuer_cn' },
            properties: [
              { id: 'displayName', value: 'Issuer CN' },
            ],
          },
        ],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
      },
      transformations: [
        {
          id: 'merge',
          options: {},
        },
        {
          id: 'organize',
          options: {
            excludeByName: {
              Time: true,
              job: true,
              instance: true,
              tenant: true,
              domain: true,
              __name__: true,
              'Value #A': true,
            },
            indexByName: {
              vantage: 0,
              target: 1,
              address: 2,
              subject_cn: 3,
              issuer_cn: 4,
              'Value #B': 5,
              'Value #C': 6,
              'Value #D': 7,
              'Value #E': 8,
              'Value #F': 9,
              serial: 10,
              sha256: 11,
            },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 14,
      type: 'table',
      title: 'SRV records',
      description: '_sipfederationtls._tcp records as answered at each vantage (sipfed_srv_target_info).',
      gridPos: { x: 0, y: 46, w: 12, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_srv_target_info{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
      },
      transformations: [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, Value: true, __name__: true, job: true, instance: true, tenant: true, domain: true },
            indexByName: { vantage: 0, priority: 1, weight: 2, port: 3, target: 4 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 15,
      type: 'timeseries',
      title: 'Certificate time left',
      description: 'Time until each endpoint\'s leaf certificate expires; a jump up is a renewal being served.',
      gridPos: { x: 12, y: 46, w: 12, h: 7 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant="$tenant", domain="$domain", vantage=~"$vantage"} - time()',
          legendFormat: '{{vantage}} {{target}} {{address}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 's',
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: 0,
            showPoints: 'never',
            spanNulls: false,
            thresholdsStyle: { mode: 'line+area' },
          },
          color: { mode: 'palette-classic' },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'orange', value: 604800 },
              { color: 'transparent', value: 1814400 },
            ],
          },
        },
        overrides: [],
      },
      options: {
        legend: {
          displayMode: 'table',
          placement: 'right',
          showLegend: true,
          calcs: ['lastNotNull', 'max'],
        },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },
    {
      id: 16,
      type: 'table',
      title: 'Federation readiness',
      description: 'Both directions of federation with each partner (sipfed_federation_ready): outbound, we reach them; inbound, they reach us. Not ready first.',
      gridPos: { x: 0, y: 53, w: 24, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_federation_ready{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain"}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
          },
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
            ],
          },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'Value' },
            properties: [
              { id: 'displayName', value: 'Ready' },
              { id: 'mappings', value: [{ type: 'value', options: { '0': { text: 'not ready', color: 'red' }, '1': { text: 'ready', color: 'green' } } }] },
              { id: 'custom.cellOptions', value: { type: 'color-text' } },
            ],
          },
        ],
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        sortBy: [{ displayName: 'Ready', desc: false }],
        footer: {
          show: false,
          reducer: ['sum'],
          fields: '',
          countRows: false,
        },
      },
      transformations: [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, job: true, instance: true, __name__: true },
            indexByName: { tenant: 0, domain: 1, vantage: 2, direction: 3, Value: 4 },
            renameByName: {},
          },
        },
      ],
    },
  ],
}
