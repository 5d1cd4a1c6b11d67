"""Model-editing evaluation (`lmaudit edit-eval`): edits in the CounterFact and zsRE shapes,
scored on a model before and after the edit, paired and clustered by edit."""

from lmaudit.editing.evaluate import evaluate_edits
from lmaudit.editing.records import EditCase, Probe, read_edits
from lmaudit.editing.results import EditEvaluation, EditMetric

__all__ = ["EditCase", "EditEvaluation", "EditMetric", "Probe", "evaluate_edits",
           "read_edits"]
