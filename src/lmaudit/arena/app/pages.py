"""Server-rendered pages of the arena, and the one small script and stylesheet they load.

Pages are plain HTML built with `html.escape`; the only script is `/static/arena.js` (the
Content-Security-Policy allows no inline script or style). The script reads the CSRF token
from `<meta name="csrf-token">` and sends it as `X-CSRF-Token` with every POST.
"""

from __future__ import annotations

from html import escape
from typing import Any

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>{title}</title>
<link rel="stylesheet" href="/static/arena.css">
<script src="/static/arena.js" defer></script>
</head><body>
<nav><a href="/">Arena</a> · <a href="/leaderboard">Leaderboard</a></nav>
<main>
"""
_FOOT = "</main></body></html>\n"


def page(title: str, csrf: str, body: str) -> str:
    """A whole page around `body` (already-escaped HTML)."""
    return _HEAD.format(title=escape(title), csrf=escape(csrf)) + body + _FOOT


def arena_page(csrf: str, max_prompt_chars: int) -> str:
    """The battle page: a prompt form, two anonymous answer panes, four vote buttons."""
    body = f"""<h1>Which answer is better?</h1>
<form id="prompt-form" method="post" action="/battle">
<input type="hidden" name="csrf_token" value="{escape(csrf)}">
<textarea id="prompt" name="prompt" maxlength="{max_prompt_chars}" rows="4" required
 placeholder="Ask both models anything"></textarea>
<button id="send" type="submit">Send</button>
</form>
<p id="status" role="status"></p>
<section id="battle" hidden>
<div class="panes">
<article><h2>Model A <span id="name-a" class="name"></span></h2><div id="answer-a"></div></article>
<article><h2>Model B <span id="name-b" class="name"></span></h2><div id="answer-b"></div></article>
</div>
<div id="votes">
<button data-vote="a" id="vote-a" disabled>A is better</button>
<button data-vote="b" id="vote-b" disabled>B is better</button>
<button data-vote="tie" id="vote-tie" disabled>Tie</button>
<button data-vote="both_bad" id="vote-both_bad" disabled>Both are bad</button>
</div>
</section>
"""
    return page("lmaudit arena", csrf, body)


def battle_page(csrf: str, battle: dict[str, Any]) -> str:
    """One battle without JavaScript: the answers (sanitized HTML), then a vote form or,
    once voted, the vote and the model names."""
    names = battle["models"] or ("", "")
    panes = "".join(
        f"<article><h2>Model {side.upper()} <span id='name-{side}' class='name'>"
        f"{'(' + escape(name) + ')' if name else ''}</span></h2>"
        f"<div id='answer-{side}'>{battle['answers'].get(side, '')}</div></article>"
        for side, name in zip(("a", "b"), names, strict=True)
    )
    if battle["vote"] is None:
        buttons = "".join(
            f"<button name='choice' value='{v}' id='vote-{v}'>{label}</button>"
            for v, label in (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"),
                             ("both_bad", "Both are bad"))
        )
        action = f"/battle/{escape(battle['id'])}/vote"
        tail = (f"<form id='votes' method='post' action='{action}'>"
                f"<input type='hidden' name='csrf_token' value='{escape(csrf)}'>{buttons}</form>")
    else:
        tail = f"<p id='status'>Vote recorded: {escape(battle['vote'])}.</p>"
    body = (f"<h1>Which answer is better?</h1><p class='prompt'>{escape(battle['prompt'])}</p>"
            f"<div class='panes'>{panes}</div>{tail}<p><a href='/'>New battle</a></p>")
    return page("lmaudit arena battle", csrf, body)


def _rows_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<tr><td colspan="5">no ratings yet</td></tr>'
    return "".join(
        f"<tr><td>{i}</td><td>{escape(r['model'])}</td><td>{r['rating']:.0f}</td>"
        f"<td>[{r['ci_low']:.0f}, {r['ci_high']:.0f}]</td><td>{r['battles']:.0f}</td></tr>"
        for i, r in enumerate(rows, start=1)
    )


def leaderboard_body(board: dict[str, Any]) -> str:
    """The leaderboard tables (plain and style-controlled) and the vote counts, as HTML."""
    head = "<tr><th>#</th><th>Model</th><th>Rating</th><th>95% interval</th><th>Battles</th></tr>"
    counts = "".join(
        f"<li>{escape(m)}: <span class='count'>{n}</span></li>" for m, n in board["counts"].items()
    )
    note = f"<p class='note'>{escape(board['note'])}</p>" if board["note"] else ""
    return (
        f"<p>Votes: <strong id='vote-total'>{board['votes']}</strong></p>{note}"
        f"<h2>Bradley-Terry</h2><table id='ratings'>{head}{_rows_html(board['rows'])}</table>"
        f"<h2>With style control</h2><table id='style-ratings'>{head}"
        f"{_rows_html(board['style_rows'])}</table>"
        f"<h2>Votes per model</h2><ul id='counts'>{counts}</ul>"
    )


def leaderboard_page(csrf: str, board: dict[str, Any]) -> str:
    """The live leaderboard page (the script refreshes `#board` every few seconds)."""
    body = (
        "<h1>Leaderboard</h1><p>Ratings on the Elo scale (mean 1000), 95% sandwich "
        "intervals; refreshed as votes arrive.</p>"
        f"<div id='board' data-live='1'>{leaderboard_body(board)}</div>"
    )
    return page("lmaudit arena leaderboard", csrf, body)


def error_page(status: int, message: str) -> str:
    """A generic error page (no details of the failure)."""
    return page(f"Error {status}", "", f"<h1>Error {status}</h1><p>{escape(message)}</p>")


STYLESHEET = """body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem}
textarea{width:100%}.panes{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
article{border:1px solid #ccc;padding:.5rem;min-height:4rem;overflow-wrap:anywhere}
.name{color:#555;font-weight:normal}#votes{margin-top:1rem}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem;text-align:left}.note{color:#666}
"""
