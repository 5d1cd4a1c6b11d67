"""The arena web app: anonymous side-by-side battles, votes in a database, a live leaderboard.

`create_app` builds the FastAPI application over named lmaudit backends; `lmaudit arena serve`
runs it with uvicorn. Modules: `db` (SQLAlchemy models, engine, Alembic upgrade), `store`
(queries), `security` (cookies, CSRF, rate limits, sanitizing), `ratings` (leaderboard from
votes via `lmaudit.arena.ranking`), `pages` (server-rendered HTML), `web` (routes).
"""
