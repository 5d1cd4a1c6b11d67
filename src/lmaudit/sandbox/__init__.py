"""Running untrusted code: process limits, timeouts, no network, optional containers.

`run_program` / `run_programs` (`lmaudit.sandbox.execute`) run Python programs one process
each; `lmaudit.sandbox.container` builds the podman/docker command line for the stricter
container runner.
"""

from lmaudit.sandbox.execute import (
    ExecutionResult,
    SandboxInfo,
    run_program,
    run_programs,
    sandbox_info,
)
from lmaudit.sandbox.limits import SandboxLimits

__all__ = [
    "ExecutionResult",
    "SandboxInfo",
    "SandboxLimits",
    "run_program",
    "run_programs",
    "sandbox_info",
]
