"""The detector validation lab (`lmaudit contamination validate`).

Plants generated benchmark items at known exposure counts and in known forms into a lab
corpus, trains a contaminated model, its clean twin and a reference model, and measures
every contamination detector's operating characteristics (AUROC with a bootstrap interval,
TPR at 1% and 5% FPR) per form and exposure, behind a validity gate.

Modules: `items` (generated items and the four forms), `plant` (corpora and the planting
manifest), `roc` (pure operating-characteristic maths), `lab` (training, scoring, grid,
gate), `report` (tables, JSON, plot). Importing this package does not import torch.
"""

from lmaudit.contamination.validation.roc import (
    Interval,
    OperatingCharacteristics,
    auroc,
    bootstrap_auroc_interval,
    operating_characteristics,
    threshold_at_fpr,
    tpr_at_fpr,
)

__all__ = [
    "Interval",
    "OperatingCharacteristics",
    "auroc",
    "bootstrap_auroc_interval",
    "operating_characteristics",
    "threshold_at_fpr",
    "tpr_at_fpr",
]
