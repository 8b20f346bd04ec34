// The 'SIP federation / Overview' dashboard: its own variables and panels. dashboards.libsonnet adds the
// datasource, job and instance variables, the datasource of every panel and query, and fills
// %(jobInstance)s in every expression with the job and instance matchers.
{
  uid: 'sipfed-overview',
  title: 'SIP federation / Overview',
  description: 'Fleet view of sipfed_exporter: tenants, failing checks, certificate expiries, unreachable endpoints and probe performance.',
  time: { from: 'now-6h', to: 'now' },
  variables: [
    {
      name: 'tenant',
      label: 'Tenant',
      query: 'label_values(sipfed_domain_info{%(jobInstance)s}, tenant)',
      multi: true,
    },
    {
      name: 'domain',
      label: 'Domain',
      query: 'label_values(sipfed_domain_info{%(jobInstance)s, tenant=~"$tenant"}, domain)',
      multi: true,
    },
    {
      name: 'vantage',
      label: 'Vantage',
      query: 'label_values(sipfed_probe_success{%(jobInstance)s}, vantage)',
      multi: true,
    },
  ],
  panels: [
    {
      id: 1,
      type: 'stat',
      title: 'Domains',
      description: 'Configured domains (sipfed_domains).',
      gridPos: { x: 0, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'sum(sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
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
      id: 2,
      type: 'stat',
      title: 'Domains failing',
      description: 'Domains where a critical check fails from at least one vantage (sipfed_probe_success == 0, not counting probes that could not look: sipfed_probe_blind == 1).',
      gridPos: { x: 4, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(max by (tenant, domain) ((sipfed_probe_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0 unless on (job, instance, tenant, domain, vantage) sipfed_probe_blind{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 1))) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'red', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 3,
      type: 'stat',
      title: 'Failing checks',
      description: 'Failing checks of any severity (sipfed_check_success == 0).',
      gridPos: { x: 8, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'orange', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 4,
      type: 'stat',
      title: 'Unreachable endpoints',
      description: 'Endpoints where TCP or TLS fails (sipfed_endpoint_up == 0).',
      gridPos: { x: 12, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(sipfed_endpoint_up{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'red', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 5,
      type: 'stat',
      title: 'Firing SipFed alerts',
      description: 'Alerts from alerts/sipfed.rules.yml in state firing (ALERTS).',
      gridPos: { x: 16, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(ALERTS{%(jobInstance)s, alertstate="firing", alertname=~"SipFed.*", tenant=~"$tenant"}) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'red', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 6,
      type: 'stat',
      title: 'Soonest certificate expiry',
      description: 'Time left on the certificate that expires first.',
      gridPos: { x: 20, y: 0, w: 4, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'min(sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"}) - time()',
          legendFormat: '__auto',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 's',
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'orange', value: 604800 },
              { color: 'green', value: 1814400 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 7,
      type: 'table',
      title: 'Tenants',
      description: 'Per tenant: domains, domains with a critical failure, failing checks, unreachable endpoints and firing alerts.',
      gridPos: { x: 0, y: 4, w: 10, h: 9 },
      targets: [
        {
          refId: 'A',
          expr: 'sum by (tenant) (sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'B',
          expr: 'count by (tenant) (max by (tenant, domain) ((sipfed_probe_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0 unless on (job, instance, tenant, domain, vantage) sipfed_probe_blind{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 1))) or 0 * sum by (tenant) (sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'C',
          expr: 'count by (tenant) (sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0) or 0 * sum by (tenant) (sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'D',
          expr: 'count by (tenant) (sipfed_endpoint_up{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0) or 0 * sum by (tenant) (sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'E',
          expr: 'count by (tenant) (ALERTS{%(jobInstance)s, alertstate="firing", alertname=~"SipFed.*", tenant=~"$tenant"}) or 0 * sum by (tenant) (sipfed_domains{%(jobInstance)s, tenant=~"$tenant"})',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
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
              { id: 'displayName', value: 'Domains' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #B' },
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
                    { color: 'green', value: null },
                    { color: 'red', value: 1 },
                  ],
                },
              },
              {
                id: 'color',
                value: { mode: 'thresholds' },
              },
              { id: 'displayName', value: 'Domains failing' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #C' },
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
                    { color: 'green', value: null },
                    { color: 'orange', value: 1 },
                  ],
                },
              },
              {
                id: 'color',
                value: { mode: 'thresholds' },
              },
              { id: 'displayName', value: 'Failing checks' },
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
                    { color: 'green', value: null },
                    { color: 'red', value: 1 },
                  ],
                },
              },
              {
                id: 'color',
                value: { mode: 'thresholds' },
              },
              { id: 'displayName', value: 'Unreachable endpoints' },
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
                id: 'thresholds',
                value: {
                  mode: 'absolute',
                  steps: [
                    { color: 'green', value: null },
                    { color: 'red', value: 1 },
                  ],
                },
              },
              {
                id: 'color',
                value: { mode: 'thresholds' },
              },
              { id: 'displayName', value: 'Firing alerts' },
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
          { displayName: 'Domains failing', desc: true },
        ],
      },
      transformations: [
        {
          id: 'merge',
          options: {},
        },
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true },
            indexByName: { tenant: 0 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 8,
      type: 'table',
      title: 'Failing checks',
      description: 'Every failing check with its severity and reason (sipfed_check_success == 0 joined with sipfed_check_failure_info). Click a domain for details.',
      gridPos: { x: 10, y: 4, w: 14, h: 9 },
      targets: [
        {
          refId: 'A',
          expr: '(sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0)\n  * on (job, instance, tenant, domain, vantage, check) group_left (reason)\n    sipfed_check_failure_info{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"}\nor on (job, instance, tenant, domain, vantage, check)\n  (sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0)',
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
            matcher: { id: 'byName', options: 'domain' },
            properties: [
              {
                id: 'links',
                value: [
                  {
                    title: 'Open ${__value.raw}',
                    url: '/d/sipfed-domain/sipfed-domain?${datasource:queryparam}&${job:queryparam}&var-tenant=${__data.fields.tenant}&var-domain=${__value.raw}&${__url_time_range}',
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
            excludeByName: { Time: true, Value: true, job: true, instance: true },
            indexByName: { severity: 0, tenant: 1, domain: 2, vantage: 3, check: 4, reason: 5 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 9,
      type: 'table',
      title: 'Soonest certificate expiries',
      description: 'The 25 leaf certificates that expire first, per endpoint. Red below 7 days, orange below 21 days.',
      gridPos: { x: 0, y: 13, w: 14, h: 9 },
      targets: [
        {
          refId: 'A',
          expr: 'bottomk(25,\n  (sipfed_cert_not_after_timestamp_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} - time())\n  * on (job, instance, tenant, domain, vantage, target, address) group_left (subject_cn, issuer_cn)\n    sipfed_cert_info{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"}\n)',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 's',
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
            ],
          },
          {
            matcher: { id: 'byName', options: 'domain' },
            properties: [
              {
                id: 'links',
                value: [
                  {
                    title: 'Open ${__value.raw}',
                    url: '/d/sipfed-domain/sipfed-domain?${datasource:queryparam}&${job:queryparam}&var-tenant=${__data.fields.tenant}&var-domain=${__value.raw}&${__url_time_range}',
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
          { displayName: 'Time left', desc: false },
        ],
      },
      transformations: [
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, job: true, instance: true },
            indexByName: { Value: 0, tenant: 1, domain: 2, vantage: 3, target: 4, address: 5, subject_cn: 6, issuer_cn: 7 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 10,
      type: 'table',
      title: 'Unreachable endpoints',
      description: 'Endpoints where TCP or TLS fails (sipfed_endpoint_up == 0).',
      gridPos: { x: 14, y: 13, w: 10, h: 9 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_endpoint_up{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0',
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
            matcher: { id: 'byName', options: 'domain' },
            properties: [
              {
                id: 'links',
                value: [
                  {
                    title: 'Open ${__value.raw}',
                    url: '/d/sipfed-domain/sipfed-domain?${datasource:queryparam}&${job:queryparam}&var-tenant=${__data.fields.tenant}&var-domain=${__value.raw}&${__url_time_range}',
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
            excludeByName: { Time: true, Value: true, job: true, instance: true, __name__: true },
            indexByName: { tenant: 0, domain: 1, vantage: 2, target: 3, address: 4 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 11,
      type: 'timeseries',
      title: 'Failing checks by severity',
      description: 'Number of failing checks over time.',
      gridPos: { x: 0, y: 22, w: 12, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'count by (severity) (sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0)',
          legendFormat: '{{severity}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
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
        overrides: [
          {
            matcher: { id: 'byName', options: 'critical' },
            properties: [
              {
                id: 'color',
                value: { mode: 'fixed', fixedColor: 'red' },
              },
            ],
          },
          {
            matcher: { id: 'byName', options: 'warning' },
            properties: [
              {
                id: 'color',
                value: { mode: 'fixed', fixedColor: 'orange' },
              },
            ],
          },
          {
            matcher: { id: 'byName', options: 'info' },
            properties: [
              {
                id: 'color',
                value: { mode: 'fixed', fixedColor: 'blue' },
              },
            ],
          },
        ],
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
      id: 12,
      type: 'timeseries',
      title: 'Unreachable endpoints by vantage',
      description: 'Endpoints with sipfed_endpoint_up == 0, per vantage.',
      gridPos: { x: 12, y: 22, w: 12, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'count by (vantage) (sipfed_endpoint_up{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"} == 0)',
          legendFormat: '{{vantage}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
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
    },
    {
      id: 13,
      type: 'timeseries',
      title: 'Probe duration by vantage',
      description: 'Median, 95th percentile and maximum probe duration over the selected domains (sipfed_probe_duration_seconds).',
      gridPos: { x: 0, y: 30, w: 12, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'quantile by (vantage) (0.5, sipfed_probe_duration_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"})',
          legendFormat: 'p50 {{vantage}}',
          range: true,
        },
        {
          refId: 'B',
          expr: 'quantile by (vantage) (0.95, sipfed_probe_duration_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"})',
          legendFormat: 'p95 {{vantage}}',
          range: true,
        },
        {
          refId: 'C',
          expr: 'max by (vantage) (sipfed_probe_duration_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"})',
          legendFormat: 'max {{vantage}}',
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
    },
    {
      id: 14,
      type: 'timeseries',
      title: 'Slowest domains',
      description: 'The 10 domains with the longest probe duration.',
      gridPos: { x: 12, y: 30, w: 12, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'topk(10, max by (tenant, domain) (sipfed_probe_duration_seconds{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"}))',
          legendFormat: '{{tenant}} / {{domain}}',
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
    },
    {
      id: 15,
      type: 'timeseries',
      title: 'Probes by result',
      description: 'Finished probes per second, by vantage and result (sipfed_probes_total).',
      gridPos: { x: 0, y: 38, w: 8, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'sum by (vantage, result) (rate(sipfed_probes_total{%(jobInstance)s, vantage=~"$vantage"}[$__rate_interval]))',
          legendFormat: '{{vantage}} {{result}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'ops',
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
    },
    {
      id: 16,
      type: 'timeseries',
      title: 'Probes in flight',
      description: 'Probes running at once per exporter; a value stuck at the configured concurrency means probes queue up.',
      gridPos: { x: 8, y: 38, w: 8, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'sum by (instance) (sipfed_probes_in_flight{%(jobInstance)s})',
          legendFormat: '{{instance}}',
          range: true,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
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
    },
    {
      id: 17,
      type: 'bargauge',
      title: 'Platforms',
      description: 'Domains by federation platform as seen from each vantage (sipfed_platform_info).',
      gridPos: { x: 16, y: 38, w: 8, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'count by (platform) (sipfed_platform_info{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"})',
          legendFormat: '{{platform}}',
          instant: true,
          range: false,
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'short',
          color: { mode: 'palette-classic' },
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
        displayMode: 'basic',
        orientation: 'horizontal',
        showUnfilled: true,
        valueMode: 'color',
        namePlacement: 'auto',
        sizing: 'auto',
        reduceOptions: {
          calcs: ['lastNotNull'],
          fields: '',
          values: false,
        },
      },
    },
    {
      id: 18,
      type: 'table',
      title: 'Exporters',
      description: 'Each exporter instance: version, configuration reload state, probe interval and probes in flight.',
      gridPos: { x: 0, y: 46, w: 24, h: 6 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_exporter_build_info{%(jobInstance)s}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'B',
          expr: 'sipfed_config_last_reload_successful{%(jobInstance)s}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'C',
          expr: 'time() - sipfed_config_last_reload_success_timestamp_seconds{%(jobInstance)s}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'D',
          expr: 'sipfed_probe_interval_seconds{%(jobInstance)s}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'E',
          expr: 'sipfed_probes_in_flight{%(jobInstance)s}',
          legendFormat: '__auto',
          instant: true,
          range: false,
          format: 'table',
        },
        {
          refId: 'F',
          expr: 'up{%(jobInstance)s}',
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
            matcher: { id: 'byName', options: 'Value #F' },
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
              { id: 'displayName', value: 'Scrape' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #B' },
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
                      '0': { text: 'failed', color: 'red', index: 0 },
                      '1': { text: 'ok', color: 'green', index: 1 },
                    },
                  },
                ],
              },
              { id: 'displayName', value: 'Last reload' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #C' },
            properties: [
              { id: 'displayName', value: 'Since last good reload' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #D' },
            properties: [
              { id: 'displayName', value: 'Probe interval' },
              { id: 'unit', value: 's' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Value #E' },
            properties: [
              { id: 'displayName', value: 'Probes in flight' },
              { id: 'unit', value: 'short' },
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
            excludeByName: { Time: true, 'Value #A': true, __name__: true },
            indexByName: { job: 0, instance: 1, version: 2, revision: 3, 'Value #F': 4, 'Value #B': 5 },
            renameByName: {},
          },
        },
      ],
    },
    {
      id: 19,
      type: 'table',
      title: 'Federation readiness per partner',
      description: 'Both directions of federation with each partner (sipfed_federation_ready): outbound, we reach them; inbound, they reach us. Not ready first.',
      gridPos: { x: 0, y: 52, w: 24, h: 8 },
      targets: [
        {
          refId: 'A',
          expr: 'sipfed_federation_ready{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage"}',
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
    {
      id: 20,
      type: 'stat',
      title: 'Degraded edges',
      description: 'Domains with a dead address of a pool or a dead backup target (edge_redundancy fails): federation works with less margin (SipFedEdgeDegraded).',
      gridPos: { x: 0, y: 60, w: 12, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage", check="edge_redundancy"} == 0) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'orange', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
    {
      id: 21,
      type: 'stat',
      title: 'Partners refusing us',
      description: 'Partners whose edge refuses SIP from the tenant\'s sip_from (sip_accepts_us fails: 403 and the like, see sipfed_sip_ms_diagnostics_code).',
      gridPos: { x: 12, y: 60, w: 12, h: 4 },
      targets: [
        {
          refId: 'A',
          expr: 'count(sipfed_check_success{%(jobInstance)s, tenant=~"$tenant", domain=~"$domain", vantage=~"$vantage", check="sip_accepts_us"} == 0) or vector(0)',
          legendFormat: '__auto',
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
              { color: 'green', value: null },
              { color: 'red', value: 1 },
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
        textMode: 'auto',
        wideLayout: true,
      },
    },
  ],
}
