"""The arena web app: anonymous side-by-side battles, votes in a database, a live leaderboard.

`create_app` builds the FastAPI application over named lmaudit backends; `lmaudit arena serve`
runs it with uvicorn. Modules: `db` (SQLAlchemy models, engine, Alembic upgrade), `store`
(queries), `answering` (each answer generated once), `security` (cookies, CSRF, rate limits,
trusted proxies, sanitizing), `guard` (the ASGI middleware that applies them), `ratings`
(leaderboard from votes via `lmaudit.arena.ranking`), `pages` (server-rendered HTML), `web`
(routes), `server` (uvicorn).
"""

from lmaudit.core.types import LmauditError

DEFAULT_URL = "sqlite:///arena.db"


def require_app_packages() -> None:
    """One clear error when the web app's packages (the `app` extra) are not installed."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "nh3", "itsdangerous")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise LmauditError(
            f"the arena web app needs {', '.join(missing)}: pip install 'lmaudit[app]'"
        )
