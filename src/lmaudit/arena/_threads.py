"""Keep BLAS single-threaded inside the rating solvers.

The solvers run many small linear-algebra calls (129 x 129 systems, batched); on a busy
machine OpenBLAS's own threads make these several times slower. When `threadpoolctl` is
installed the solvers limit BLAS to one thread for their duration (parallelism comes from
worker processes instead); without it this is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
