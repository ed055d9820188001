"""Scrape discovery: the additional Prometheus job for pods annotated `prometheus.io/scrape`, and the
rule (a pod a ServiceMonitor or PodMonitor already covers is skipped) that keeps every series single."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from event_platform import labels

ANNOTATION_JOB = "kubernetes-pods"
"""Job name of the additional scrape config that scrapes annotated pods."""


SCRAPE_ANNOTATION = "prometheus.io/scrape"


PORT_ANNOTATION = "prometheus.io/port"


PATH_ANNOTATION = "prometheus.io/path"


SCHEME_ANNOTATION = "prometheus.io/scheme"


MONITOR_SCRAPED = (labels.SCRAPED_BY_SERVICE_MONITOR, labels.SCRAPED_BY_POD_MONITOR)
"""Values of `labels.SCRAPED_BY` that make the annotation job skip a pod."""


def meta_label(prefix: str, key: str) -> str:
    """The service-discovery meta label of a pod label or annotation (`prefix`: `label`,
    `annotation`): Prometheus turns every character that cannot appear in a label name into `_`."""
    return f"__meta_kubernetes_pod_{prefix}_{re.sub(r'[^a-zA-Z0-9_]', '_', key)}"


def annotation_scrape_config() -> dict[str, Any]:
    """The additional scrape job for pods annotated `prometheus.io/scrape: "true"` (with
    `prometheus.io/port`, `/path`, `/scheme`), the convention many charts and apps follow.

    A pod carrying `labels.SCRAPED_BY` is skipped: a ServiceMonitor or PodMonitor scrapes it, and
    scraping it here too would double every series. The job keeps no port-specific label, so the
    one target per container port that pod discovery yields collapses into one once the port
    annotation has set the address.
    """
    return {
        "job_name": ANNOTATION_JOB,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [meta_label("annotation", SCRAPE_ANNOTATION)], "regex": "true", "action": "keep"},
            {"source_labels": [meta_label("label", labels.SCRAPED_BY)], "regex": "|".join(MONITOR_SCRAPED),
             "action": "drop"},
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Succeeded|Failed",
             "action": "drop"},
            {"source_labels": [meta_label("annotation", SCHEME_ANNOTATION)], "regex": "(https?)",
             "target_label": "__scheme__", "action": "replace"},
            {"source_labels": [meta_label("annotation", PATH_ANNOTATION)], "regex": "(.+)",
             "target_label": "__metrics_path__", "action": "replace"},
            {"source_labels": ["__address__", meta_label("annotation", PORT_ANNOTATION)],
             "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2", "target_label": "__address__",
             "action": "replace"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod", "action": "replace"},
        ],
    }


def annotation_scraping_applies(pod_labels: Mapping[str, str], pod_annotations: Mapping[str, str]) -> bool:
    """Whether the annotation job scrapes a pod with these labels and annotations (the same decision
    as `annotation_scrape_config`'s relabelling; tests/test_observability.py proves they agree)."""
    return pod_annotations.get(SCRAPE_ANNOTATION) == "true" and pod_labels.get(labels.SCRAPED_BY) not in MONITOR_SCRAPED
