"""Memorization probes: answer-preserving variants of benchmark items, paired analysis.

- `templates`: symbolic templates (GSM-Symbolic JSON and lmaudit YAML) and their instances;
- `perturb`: variants of any Sample (irrelevant clause, sentence reorder, option
  rotation and relabelling), each linked to its original;
- `templated`: fresh template instances and template no-op clauses for `arith` items;
- `analysis`: accuracy per family, paired drop clustered by template, McNemar, instance-set
  distribution, consistency, verdict;
- `runner`: a probe run (run directory + `probe_results.json` + `instance_sets.png`);
- `summary`: text tables and `probe_summary_for_demo`.
"""

from __future__ import annotations

from lmaudit.probes.summary import probe_summary_for_demo

__all__ = ["probe_summary_for_demo"]
