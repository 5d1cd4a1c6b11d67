"""Resource limits of one sandboxed execution (units: seconds and bytes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one program run.

    `wall_s`: wall-clock seconds before the whole process group is killed (the reference
    harness uses 3 s; we allow more because the machine may be shared). `cpu_s`: CPU
    seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL one second later). `memory_bytes`: address
    space (RLIMIT_AS). `file_size_bytes`: the largest file the program may write, its
    captured output included (RLIMIT_FSIZE). `open_files`: RLIMIT_NOFILE. `processes`:
    RLIMIT_NPROC, counted per user: enforced for the dropped sandbox uid (one uid per
    parallel slot) and for non-root users; root itself is exempt. `output_bytes`: how much
    of the program's output the result keeps (its tail).
    """

    wall_s: float = 6.0
    cpu_s: int = 5
    memory_bytes: int = 2048 * MIB
    file_size_bytes: int = 16 * MIB
    open_files: int = 64
    processes: int = 32
    output_bytes: int = 2048

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {value}")

    def child_limits(self) -> dict[str, int]:
        """The limits the launcher sets with setrlimit."""
        return {
            "cpu_s": int(self.cpu_s),
            "memory_bytes": int(self.memory_bytes),
            "file_size_bytes": int(self.file_size_bytes),
            "open_files": int(self.open_files),
            "processes": int(self.processes),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
