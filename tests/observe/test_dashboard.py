"""The Grafana dashboard and docs/observability.md name only metrics the code registers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from sso_bridge.observe import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "sso_bridge.json"
DOC = ROOT / "docs" / "observability.md"
NAME = re.compile(r"\bsso_bridge_[a-z_]+")


def _metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def test_every_panel_queries_registered_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = set(_metrics().samples())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert "datasource" in variables
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            names = set(NAME.findall(target["expr"]))
            assert names, target["expr"]
            assert names <= exposed, (panel["title"], names - exposed)
            used |= names
    families = {n.removesuffix("_total").removesuffix("_bucket") for n in used}
    assert families == set(_metrics().names())  # every metric has a panel


def test_the_docs_list_every_metric() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(sso_bridge_[a-z_]+)` \|", text, re.MULTILINE))
    metrics = _metrics()
    listed = {n.removesuffix("_total") for n in table}
    assert listed == set(metrics.names())
