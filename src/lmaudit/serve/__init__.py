"""An OpenAI-compatible HTTP server over any lmaudit backend (`lmaudit serve`).

`lmaudit.serve.app.start_server_in_thread(backend, port=0, served_name=...)` serves a backend
from a background thread (tests); `build_app` gives the aiohttp application. Import the
submodules directly: this package imports nothing heavy.
"""
