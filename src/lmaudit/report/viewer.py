"""The sample viewer's data block, script and stylesheet (written here, no third-party code).

Data: one JSON object in `<script type="application/json" id="lmaudit-samples">` (gzip +
base64 when large, see `data_block`), column-wise (`viewer_data`); prompts and targets are
interned (`prompts`/`targets` lists, rows hold indices) because every model answers the
same items. Every `<` is written as `\\u003c`, so no model text can close the block or
open a comment (base64 has no `<` at all). The script renders one page of rows
at a time and writes model text only with `textContent`, never as HTML.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from lmaudit.report.model import SampleTable

PAGE_SIZE = 50
COMPRESS_ABOVE = 2_000_000  # bytes of JSON


def _intern(values: tuple[str, ...]) -> tuple[list[str], list[int]]:
    table: dict[str, int] = {}
    index = [table.setdefault(v, len(table)) for v in values]
    return list(table), index


def viewer_data(samples: SampleTable) -> dict[str, Any]:
    """The JSON object the viewer reads (see the module docstring)."""
    prompts, prompt_index = _intern(samples.prompt)
    targets, target_index = _intern(samples.target)
    return {
        "runs": [list(r) for r in samples.runs],
        "run": list(samples.run),
        "id": list(samples.sample_id),
        "variant": list(samples.variant),
        "orig": list(samples.original_id),
        "prompts": prompts,
        "prompt": prompt_index,
        "targets": targets,
        "target": target_index,
        "response": list(samples.response),
        "extracted": list(samples.extracted),
        "score": list(samples.score),
        "disagree": [1 if d else 0 for d in samples.disagree],
    }


def data_block(samples: SampleTable, compress: bool | None = None) -> str:
    """The data element holding `viewer_data`: plain JSON in `<script
    type="application/json" id="lmaudit-samples">`, or, when `compress` (default: when the
    JSON exceeds COMPRESS_ABOVE bytes), gzip + base64 in `<script type="application/gzip"
    id="lmaudit-samples" data-encoding="gzip+base64">`, inflated by the browser's
    DecompressionStream (level 1: fast; model text is repetitive, so about 3× smaller even after
    base64)."""
    text = json.dumps(viewer_data(samples), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    raw = text.encode("utf-8")
    if compress is None:
        compress = len(raw) > COMPRESS_ABOVE
    if compress:
        packed = base64.b64encode(gzip.compress(raw, compresslevel=1, mtime=0)).decode("ascii")
        return ('<script type="application/gzip" id="lmaudit-samples" '
                f'data-encoding="gzip+base64">{packed}</script>')
    text = text.replace("<", "\\u003c")
    return f'<script type="application/json" id="lmaudit-samples">{text}</script>'


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;
background:#fff;line-height:1.4}
header,section{padding:12px 24px}
header{background:#1f3b57;color:#fff}
header h1{margin:0 0 4px 0;font-size:1.4em}
nav{padding:6px 24px;background:#eef2f6;position:sticky;top:0;z-index:2}
nav a{margin-right:14px;color:#1f3b57}
h2{border-bottom:2px solid #dde3ea;padding-bottom:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
.card{border:1px solid #ccd;border-left:8px solid #999;border-radius:6px;padding:10px 14px}
.card.trusted{border-left-color:#2e8b57}.card.caution{border-left-color:#d89b00}
.card.not-trusted{border-left-color:#c0392b}
.card h3{margin:0 0 6px 0;font-size:1.05em}
.level{font-weight:bold;text-transform:uppercase;font-size:.8em;padding:2px 6px;
border-radius:4px;background:#eee}
.trusted .level{background:#d8f0e2}.caution .level{background:#fbecc2}
.not-trusted .level{background:#f6d5d1}
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:6px 0}
.card dt{color:#555}.card dd{margin:0}
.sentence{font-weight:500;margin:4px 0 8px 0}
table{border-collapse:collapse;margin:6px 0;font-size:.92em}
th,td{border:1px solid #dde;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f5f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.missing{color:#a33}
.muted{color:#666;font-size:.9em}
#viewer-controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:8px}
#viewer-table{width:100%;table-layout:fixed}
#viewer-table td{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:30em}
#viewer-table tbody tr{cursor:pointer}
#viewer-table tbody tr:hover{background:#f0f6ff}
#viewer-table tbody tr.selected{background:#dcebff}
.detail{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin-top:10px}
.detail pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f9;border:1px solid
#e1e1e8;padding:6px;margin:2px 0 8px 0;max-height:22em;overflow:auto}
.detail h4{margin:4px 0}
code{font-size:.9em;word-break:break-all}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var block = document.getElementById("lmaudit-samples");
  if (!block) { return; }
  function bytes(b64) {
    if (Uint8Array.fromBase64) { return Uint8Array.fromBase64(b64); }
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  if (block.dataset.encoding === "gzip+base64") {
    var stream = new Blob([bytes(block.textContent.trim())]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    new Response(stream).text().then(function (text) { start(JSON.parse(text)); });
  } else {
    start(JSON.parse(block.textContent));
  }

function start(D) {
  var N = D.run.length, PAGE = __PAGE_SIZE__;
  var $ = function (id) { return document.getElementById(id); };
  var fTask = $("f-task"), fModel = $("f-model"), fVariant = $("f-variant"),
      fCorrect = $("f-correct"), fDisagree = $("f-disagree"), fSearch = $("f-search");
  var body = $("viewer-rows"), count = $("viewer-count"), pageLabel = $("viewer-page");
  var matches = [], page = 0, hay = null, byKey = null, timer = null;

  function uniq(values) {
    var seen = {}, out = [];
    values.forEach(function (v) { if (!seen.hasOwnProperty(v)) { seen[v] = 1; out.push(v); } });
    return out.sort();
  }
  function fill(select, values) {
    values.forEach(function (v) {
      var o = document.createElement("option"); o.value = v; o.textContent = v;
      select.appendChild(o);
    });
  }
  fill(fTask, uniq(D.runs.map(function (r) { return r[1]; })));
  fill(fModel, uniq(D.runs.map(function (r) { return r[0]; })));
  fill(fVariant, uniq(D.variant));

  function text(i) {
    return (D.id[i] + "\n" + D.prompts[D.prompt[i]] + "\n" + D.response[i] + "\n" +
            D.extracted[i] + "\n" + D.targets[D.target[i]]).toLowerCase();
  }
  function apply() {
    var task = fTask.value, model = fModel.value, variant = fVariant.value,
        correct = fCorrect.value, dis = fDisagree.checked,
        query = fSearch.value.trim().toLowerCase();
    if (query && hay === null) { hay = new Array(N); }
    matches = [];
    for (var i = 0; i < N; i++) {
      var r = D.runs[D.run[i]];
      if (task && r[1] !== task) { continue; }
      if (model && r[0] !== model) { continue; }
      if (variant && D.variant[i] !== variant) { continue; }
      var s = D.score[i];
      if (correct === "correct" && s !== 1) { continue; }
      if (correct === "wrong" && (s === null || s >= 1)) { continue; }
      if (dis && !D.disagree[i]) { continue; }
      if (query) {
        if (hay[i] === undefined) { hay[i] = text(i); }
        if (hay[i].indexOf(query) < 0) { continue; }
      }
      matches.push(i);
    }
    page = 0;
    render();
  }
  function cell(tr, value, cls) {
    var td = document.createElement("td");
    td.textContent = value;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
  }
  function render() {
    var pages = Math.max(1, Math.ceil(matches.length / PAGE));
    page = Math.min(page, pages - 1);
    count.textContent = matches.length + " of " + N + " samples";
    pageLabel.textContent = "page " + (page + 1) + " / " + pages;
    body.replaceChildren();
    var end = Math.min(matches.length, (page + 1) * PAGE);
    for (var k = page * PAGE; k < end; k++) {
      var i = matches[k], r = D.runs[D.run[i]], tr = document.createElement("tr");
      tr.dataset.index = String(i);
      cell(tr, r[0]); cell(tr, r[1]); cell(tr, D.variant[i]); cell(tr, D.id[i]);
      cell(tr, D.score[i] === null ? "" : String(D.score[i]), "num");
      cell(tr, D.response[i].slice(0, 200)); cell(tr, D.extracted[i]);
      cell(tr, D.targets[D.target[i]].slice(0, 200));
      body.appendChild(tr);
    }
  }
  function pane(title, i) {
    var div = document.createElement("div"), r = D.runs[D.run[i]];
    var h = document.createElement("h4");
    h.textContent = title + ": " + D.id[i] + " (" + r[0] + " · " + r[1] + " · " +
                    D.variant[i] + ")";
    div.appendChild(h);
    [["prompt", D.prompts[D.prompt[i]]], ["raw response", D.response[i]],
     ["extracted answer", D.extracted[i]], ["target", D.targets[D.target[i]]],
     ["score", D.score[i] === null ? "n/a" : String(D.score[i])]].forEach(function (f) {
      var label = document.createElement("div"), pre = document.createElement("pre");
      label.textContent = f[0]; pre.textContent = f[1];
      pre.className = "field-" + f[0].replace(/ /g, "-");
      div.appendChild(label); div.appendChild(pre);
    });
    return div;
  }
  function original(i) {
    if (!D.orig[i]) { return -1; }
    if (byKey === null) {
      byKey = {};
      for (var j = 0; j < N; j++) {
        if (!D.orig[j]) { byKey[D.run[j] + "\u0000" + D.id[j]] = j; }
      }
    }
    var found = byKey[D.run[i] + "\u0000" + D.orig[i]];
    return found === undefined ? -1 : found;
  }
  function show(i) {
    var detail = $("viewer-detail");
    detail.replaceChildren();
    var o = original(i);
    if (o >= 0) { detail.appendChild(pane("original", o)); }
    detail.appendChild(pane(o >= 0 ? "perturbed" : "sample", i));
  }
  body.addEventListener("click", function (event) {
    var tr = event.target.closest("tr");
    if (!tr || tr.dataset.index === undefined) { return; }
    Array.prototype.forEach.call(body.querySelectorAll("tr.selected"),
                                 function (x) { x.classList.remove("selected"); });
    tr.classList.add("selected");
    show(Number(tr.dataset.index));
  });
  [fTask, fModel, fVariant, fCorrect, fDisagree].forEach(function (el) {
    el.addEventListener("change", apply);
  });
  fSearch.addEventListener("input", function () {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(apply, 120);
  });
  $("viewer-prev").addEventListener("click", function () {
    if (page > 0) { page -= 1; render(); }
  });
  $("viewer-next").addEventListener("click", function () {
    if ((page + 1) * PAGE < matches.length) { page += 1; render(); }
  });
  $("viewer").hidden = false;
  apply();
  document.body.dataset.viewerReady = "1";
}
})();
""".replace("__PAGE_SIZE__", str(PAGE_SIZE))
