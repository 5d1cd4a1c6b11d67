"""Core types, the Backend and Task protocols, and run orchestration."""

from lmaudit.core.backend import Backend, ProgressCallback, check_capabilities
from lmaudit.core.task import Aggregation, MetricSpec, Task
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Message,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
    SampleRecord,
    request_key,
)

__all__ = [
    "Aggregation",
    "Backend",
    "Fingerprint",
    "GenerateRequest",
    "Generation",
    "GenerationParams",
    "LmauditError",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "Message",
    "MetricSpec",
    "ProgressCallback",
    "Request",
    "RequestKind",
    "Response",
    "RollingLoglikelihoodRequest",
    "RollingLoglikelihoodResult",
    "Sample",
    "SampleRecord",
    "Task",
    "check_capabilities",
    "request_key",
]
