"""The arena pages' one script, served as `/static/arena.js` (no inline script: strict CSP).

Battle page: POST the prompt (JSON, `X-CSRF-Token`), read the answers from the server-sent
event stream (text appended as it arrives, then replaced by the server's sanitized HTML),
enable the vote buttons, POST the vote, then show the model names. Leaderboard page: fetch
the server-rendered board every 3 seconds.
"""

SCRIPT = r"""
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const status = (text) => { const s = $("status"); if (s) { s.textContent = text; } };

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload)});
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    return {ok: response.ok, status: response.status, body: body};
  }

  function setVoting(enabled) {
    document.querySelectorAll("#votes button").forEach((b) => { b.disabled = !enabled; });
  }

  function stream(battleId) {
    const done = {a: false, b: false};
    const source = new EventSource("/api/battles/" + encodeURIComponent(battleId) + "/stream");
    source.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.error) { status(data.error); source.close(); return; }
      const pane = $("answer-" + data.side);
      if (data.delta !== undefined) { pane.textContent += data.delta; }
      if (data.html !== undefined) {
        pane.innerHTML = data.html;  // sanitized on the server (nh3 allow-list)
        done[data.side] = true;
      }
      if (done.a && done.b) {
        source.close(); setVoting(true); status("Vote for the better answer.");
      }
    };
    source.onerror = () => {
      if (!(done.a && done.b)) { status("The stream failed."); }
      source.close();
    };
  }

  const form = $("prompt-form");
  if (form) {
    let battleId = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const prompt = $("prompt").value;
      $("send").disabled = true;
      setVoting(false);
      ["a", "b"].forEach((s) => {
        $("answer-" + s).textContent = ""; $("name-" + s).textContent = "";
      });
      status("Waiting for the answers…");
      const result = await post("/api/battles", {prompt: prompt});
      $("send").disabled = false;
      if (!result.ok) { status(result.body.error || "Request failed."); return; }
      battleId = result.body.battle_id;
      $("battle").hidden = false;
      stream(battleId);
    });
    document.querySelectorAll("#votes button").forEach((button) => {
      button.addEventListener("click", async () => {
        if (!battleId) { return; }
        setVoting(false);
        const result = await post("/api/battles/" + encodeURIComponent(battleId) + "/vote",
                                  {choice: button.dataset.vote});
        if (!result.ok) { status(result.body.error || "Vote failed."); return; }
        $("name-a").textContent = "(" + result.body.model_a + ")";
        $("name-b").textContent = "(" + result.body.model_b + ")";
        status("Vote recorded: " + result.body.choice + ".");
      });
    });
  }

  const board = $("board");
  if (board && board.dataset.live) {
    setInterval(async () => {
      const response = await fetch("/leaderboard/board", {credentials: "same-origin"});
      if (response.ok) { board.innerHTML = await response.text(); }  // escaped on the server
    }, 3000);
  }
})();
"""
