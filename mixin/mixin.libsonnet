// The sipfed_exporter monitoring mixin: prometheusAlerts and grafanaDashboards, configured by
// _config (config.libsonnet). Plain jsonnet, no external libraries.
(import 'config.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'dashboards.libsonnet')
