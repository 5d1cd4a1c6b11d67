"""Inline SVG plots: well-formed XML, one mark per estimate, escaped labels."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from lmaudit.report.svg import (
    ForestRow,
    Marker,
    forest_plot,
    instance_set_histogram,
    reliability_diagram,
)
from lmaudit.stats import Estimate, reliability_bins

NS = "{http://www.w3.org/2000/svg}"


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, 100, "wilson")


def test_forest_plot_marks_every_estimate_and_escapes_labels() -> None:
    rows = [ForestRow("<b>model</b> & co", est(0.5, 0.4, 0.6)),
            ForestRow("other", est(0.7, 0.6, 0.8)),
            ForestRow("no interval", Estimate(0.2, math.nan, math.nan, 1, "t"))]
    svg = forest_plot(rows, [Marker("chance", 0.25)])
    root = ET.fromstring(svg)
    assert len(root.findall(f"{NS}circle")) == 3
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "<b>model</b> & co" in texts and "chance" in texts
    assert "<b>" not in svg
    # x positions follow the values: 0.5 lies left of 0.7
    cx = [float(c.get("cx", "0")) for c in root.findall(f"{NS}circle")]
    assert cx[0] < cx[1] and cx[2] < cx[0]


def test_histogram_counts_sets_and_marks_the_original() -> None:
    per_set = [0.50, 0.52, 0.52, 0.60, 0.61]
    root = ET.fromstring(instance_set_histogram(per_set, 0.8))
    bars = root.findall(f"{NS}rect")
    assert sum(int(b.findtext(f"{NS}title", "0").split(": ")[1].split()[0]) for b in bars) == 5
    assert any(t.text == "original 80.0%" for t in root.iter(f"{NS}text"))


def test_reliability_diagram_has_one_bar_per_nonempty_bin() -> None:
    conf = [0.15, 0.15, 0.55, 0.95, 0.95, 0.95]
    hits = [0, 0, 1, 1, 1, 0]
    bins = reliability_bins(conf, hits, 10, "equal_width")
    root = ET.fromstring(reliability_diagram(bins))
    bars = [r for r in root.findall(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 3
    titles = [b.findtext(f"{NS}title") for b in bars]
    assert any("accuracy 66.7% (n = 3)" in (t or "") for t in titles)


def test_forest_plot_of_a_non_share_metric_spans_its_values() -> None:
    rows = [ForestRow("a", Estimate(12.0, 11.0, 13.0, 50, "t")),
            ForestRow("b", Estimate(20.0, 18.0, 22.0, 50, "t"))]
    root = ET.fromstring(forest_plot(rows, share=False))
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("text-anchor") == "middle"]
    # from 11 − 0.55 to 22 + 0.55 (5% margins), three significant digits
    assert float(labels[0]) == pytest.approx(10.45, abs=0.06)
    assert float(labels[-1]) == pytest.approx(22.55, abs=0.06)
    assert "%" not in "".join(c.findtext(f"{NS}title", "") for c in root.iter(f"{NS}circle"))
