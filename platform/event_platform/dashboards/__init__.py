"""Grafana dashboards as code: functions returning dashboard JSON models. Components put them into
ConfigMaps labelled for Grafana's dashboard sidecar (`observability.dashboard_config_map_args`)."""
