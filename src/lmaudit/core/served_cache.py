"""The request cache of a backend asked many times in one run: an LLM judge.

A judge is asked once per problem (a best-of-N verifier, the HLE and safety tasks score
sample by sample). Its cached replies are reused under the same rule as the main model's
answers (`lmaudit.core.identity`), but the check is made once for the run, when the cache is
bound: the judge is identified then (an API judge asks its server `GET /models` once), a
judge now serving another model has its cached replies deleted and a warning says so, and
at most one cached reply in the run is asked again to compare the `system_fingerprint`
(asked once per problem, no cached reply would ever be reused).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from lmaudit.core.backend import Backend
from lmaudit.core.cache import RequestCache
from lmaudit.core.identity import ServedModelCheck, identify
from lmaudit.core.types import Request, Response


class ServedCache:
    """`cache` bound to `backend` for a run (module docstring). With `own=True` the cache
    is closed when this object goes."""

    def __init__(self, backend: Backend, cache: RequestCache, *, own: bool = False) -> None:
        self.backend = backend
        self.cache = cache
        self.check = ServedModelCheck(backend, cache, identify(backend))
        if own:
            weakref.finalize(self, cache.close)

    def answer(self, requests: Sequence[Request]) -> list[Response]:
        """The backend's answers, from the cache where it has still-valid ones."""
        from lmaudit.core.runner import execute_requests

        return execute_requests(
            self.backend, requests, show_progress=False, cache=self.cache, served=self.check
        )


def default_served_cache(backend: Backend) -> ServedCache:
    """`backend` bound to the default request cache (`default_cache_dir`), kept open for as
    long as the returned object lives."""
    from lmaudit.core.cache import default_cache_dir

    return ServedCache(backend, RequestCache(default_cache_dir()), own=True)
