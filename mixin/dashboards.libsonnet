// Grafana dashboards of the sipfed_exporter mixin (grafanaDashboards), rendered to
// dashboards/*.json by scripts/gen-mixin.sh. Each dashboard file under dashboards/ holds its own
// variables and panels; this file adds what every dashboard shares, the way Grafana's
// dashboard-linter wants it:
//   - a `datasource` variable (Prometheus), used by every panel, query and query variable;
//   - `job` (jobs matching sipfedSelector) and `instance` variables, multi-value with "All";
//   - `job=~"$job", instance=~"$instance"` in every expression (the `%(jobInstance)s`
//     placeholder of the dashboard files; scripts/test-alerts.sh asserts it on every selector).
{
  local c = $._config,
  local datasource = { type: 'prometheus', uid: '${datasource}' },
  local format(s) = s % { jobInstance: 'job=~"$job", instance=~"$instance"' },

  // A query variable: single- or multi-value ("All" matches any value).
  local queryVariable(v) = {
    type: 'query',
    datasource: datasource,
    definition: self.query.query,
    current: {},
    hide: 0,
    includeAll: v.multi,
    options: [],
    refresh: 2,  // on time range change: new domains and instances appear
    regex: '',
    skipUrlSync: false,
    sort: 1,
  } + (if v.multi then { allValue: '.+' } else {})
    + v + { query: { query: format(v.query), refId: 'PrometheusVariableQueryEditor-VariableQuery' } },

  local commonVariables = [
    {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: {},
      hide: 0,
      includeAll: false,
      multi: false,
      options: [],
      refresh: 1,
      regex: '',
      skipUrlSync: false,
    },
    queryVariable({
      name: 'job',
      label: 'Job',
      query: 'label_values(sipfed_exporter_build_info{%s}, job)' % c.sipfedSelector,
      multi: true,
    }),
    queryVariable({
      name: 'instance',
      label: 'Instance',
      query: 'label_values(sipfed_exporter_build_info{job=~"$job"}, instance)',
      multi: true,
    }),
  ],

  local panel(p) = p + {
    datasource: datasource,
    targets: [t + { datasource: datasource, expr: format(t.expr) } for t in p.targets],
  },

  local dashboard(d) = {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: c.dashboardTags,
    editable: true,
    graphTooltip: 1,  // shared crosshair
    links: [{
      title: 'SIP federation',
      type: 'dashboards',
      tags: [c.dashboardTags[0]],
      asDropdown: true,
      includeVars: false,
      keepTime: true,
      icon: 'external link',
      targetBlank: false,
      tooltip: '',
      url: '',
    }],
    refresh: c.dashboardRefresh,
    schemaVersion: 39,
    templating: { list: commonVariables + [queryVariable(v) for v in d.variables] },
    time: d.time,
    timepicker: {},
    timezone: c.dashboardTimezone,
    version: 1,
    weekStart: '',
    panels: [panel(p) for p in d.panels],
  },

  grafanaDashboards+:: {
    'sipfed-overview.json': dashboard(import 'dashboards/sipfed-overview.libsonnet'),
    'sipfed-domain.json': dashboard(import 'dashboards/sipfed-domain.libsonnet'),
  },
}
