// Kiosk page logic: sessions, streamed chat over SSE, the memory panel. No framework, no CDN.
// The page holds only a per-session token (never the admin token); ending the session revokes it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { token: null, patient: null, busy: false, emergencyNumber: "112", identify: "number",
    idleMs: 600000, idleTimer: null, controller: null, firstVisit: false, holdTimer: null, holdScope: null };
  // Timings for the browser tests and the latency benchmark: send -> first token seen.
  const metrics = (window.edgemem = { timings: [] });

  // ---------- small helpers ----------
  function say(text) { $("status").textContent = text || ""; }
  function show(view) {
    $("start-view").hidden = view !== "start";
    $("chat-view").hidden = view !== "chat";
  }
  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw apiError(res, data);
    return data;
  }
  function apiError(res, data) {
    const err = new Error((data && data.error && data.error.message) || ("error " + res.status));
    err.status = res.status;
    err.code = data && data.error && data.error.code;
    err.retryAfter = Number(res.headers.get("Retry-After") || 0);
    return err;
  }
  function bubble(role, text, cls) {
    const li = document.createElement("li");
    li.className = "msg " + role + (cls ? " " + cls : "");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : role === "assistant" ? "Assistant" : "";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text || "";
    if (who.textContent) li.append(who);
    li.append(body);
    $("log").append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }
  function note(text) { bubble("note", text); }

  // ---------- idle: a patient who walks away is signed out ----------
  function touch() {
    clearTimeout(state.idleTimer);
    if (state.token) state.idleTimer = setTimeout(() => endSession("Session ended after inactivity."), state.idleMs);
  }
  ["pointerdown", "keydown"].forEach((ev) => document.addEventListener(ev, touch, { passive: true }));

  // ---------- emergency banner ----------
  function urgent(flag) {
    // Urgent, not an emergency: the reply is shown, with "see staff now" beside it.
    $("emergency-title").textContent = "Please speak to a member of staff now.";
    $("emergency-text").textContent = flag.message;
    $("emergency").classList.add("urgent");
    $("emergency").hidden = false;
    $("emergency-close").focus();
  }
  function emergency(flag) {
    // The banner says the one thing to do; the full fixed message is in the reply bubble.
    $("emergency-title").textContent = "This may be an emergency.";
    $("emergency").classList.remove("urgent");
    $("emergency-text").textContent = "Call " + (flag.emergency_number || state.emergencyNumber) +
      " now, or ask a member of staff to call for you.";
    $("emergency").hidden = false;
    $("emergency-close").focus();
  }
  $("emergency-close").addEventListener("click", () => { $("emergency").hidden = true; $("msg").focus(); });

  // ---------- identification (the server's `identify` setting) ----------
  // [label, help, inputmode, input type, the thing in plain words]
  const SECRET = {
    "number+pin": ["PIN", "4 to 8 digits. On your first visit, choose one and remember it.", "numeric", "password", "PIN"],
    "number+dob": ["Date of birth", "As YYYY-MM-DD, for example 1980-04-23.", "numeric", "text", "date of birth"],
    "badge": ["Badge code", "Scan your badge.", "text", "password", "badge code"],
  };
  function setIdentify(mode) {
    state.identify = mode;
    const s = SECRET[mode];
    $("secret-row").hidden = !s;
    $("secret-help").hidden = !s;
    $("secret").required = !!s;
    askAgain(false);
    if (!s) return;
    $("start-view").querySelector(".lead").textContent = mode === "badge"
      ? "Scan your badge, or enter your patient number and badge code, to begin."
      : "Enter your patient number and " + s[4] + " to begin.";
    $("secret-label").textContent = s[0];
    $("secret-help").textContent = s[1];
    $("secret").inputMode = s[2];
    $("secret").type = s[3];
    $("secret-again").inputMode = s[2];
    $("secret-again").type = s[3];
    $("again-label").textContent = "Type your " + s[4] + " again";
  }
  // The first visit: the server sets the PIN (or date of birth) only once it was typed twice.
  function askAgain(on) {
    state.firstVisit = on;
    $("again-row").hidden = !on;
    $("secret-again").required = on;
    if (!on) $("secret-again").value = "";
  }
  // Sign-in problems in plain words (the server's codes; its own message for anything else).
  function signInProblem(e) {
    const what = (SECRET[state.identify] || ["", "", "", "", "code"])[4];
    const wait = Math.max(1, e.retryAfter || 1);
    switch (e.code) {
      case "set_secret":
        return "Welcome! This is your first visit: choose your " + what + " and type it again below.";
      case "secret_mismatch":
        return "The two entries are not the same. Please type your " + what + " twice again.";
      case "not_identified":
        return "That " + what + " does not match this patient number. Please try again.";
      case "not_enrolled":
        return "This number has no " + what + " set yet. Please ask a member of staff to set one.";
      case "slow_down":
        return "Please wait " + wait + (wait === 1 ? " second" : " seconds") + ", then try again.";
      case "locked":
        return "Too many wrong tries for this number. It is locked for now: please ask a member of staff.";
      case "kiosk_locked":
        return "This screen has paused sign-ins after many wrong tries. Please ask a member of staff.";
      case "not_ready":
        return "The assistant is not available right now. Please try again in a moment or ask a member of staff.";
      default: {
        const m = e.message || "Something went wrong. Please ask a member of staff.";
        return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? "" : ".");
      }
    }
  }
  // After a 429 the Start button waits out Retry-After, counting down.
  // A per-number wait ends when another number is typed; a kiosk-wide one does not.
  function releaseStart() {
    clearInterval(state.holdTimer);
    state.holdScope = null;
    $("start").disabled = false;
    $("start").textContent = "Start";
  }
  function holdStart(seconds, scope) {
    const until = Date.now() + seconds * 1000;
    clearInterval(state.holdTimer);
    state.holdScope = scope;
    $("start").disabled = true;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) { releaseStart(); return; }
      $("start").textContent = "Wait " + left + " s";
    };
    tick();
    state.holdTimer = setInterval(tick, 250);
  }

  // ---------- sessions ----------
  $("start-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const patient = $("patient").value.trim();
    $("start-error").textContent = "";
    $("start-error").classList.remove("info");
    say("");
    if (!patient) { $("start-error").textContent = "Please enter your patient number."; return; }
    const what = SECRET[state.identify];
    if (what && !$("secret").value.trim()) {
      $("start-error").textContent = "Please enter your " + what[4] + ".";
      $("secret").focus();
      return;
    }
    $("start").disabled = true;
    let held = false;
    try {
      const body = { patient };
      if (what) {
        body.secret = $("secret").value;
        body.enrol = false;  // a first visit answers 409 and the page asks twice
        if (state.firstVisit) body.secret_again = $("secret-again").value;
      }
      const s = await api("POST", "/api/session", body);
      state.token = s.token; state.patient = s.patient;
      state.idleMs = Math.max(5000, (s.idle_timeout_s || 600) * 1000);
      $("who").textContent = "Patient " + s.patient;
      $("log").replaceChildren();
      $("patient").value = ""; $("secret").value = "";
      askAgain(false);
      show("chat");
      say("");
      note("Hello! Ask me about your health, medication or your visit today.");
      $("msg").focus();
      touch();
      if (await loadMemories()) note("Welcome back! “What I remember” shows what I know about you.");
    } catch (e) {
      $("start-error").textContent = e.status === 503 ? signInProblem({ code: "not_ready" }) : signInProblem(e);
      $("start-error").classList.toggle("info", e.code === "set_secret");
      if (e.code === "set_secret") { askAgain(true); $("secret-again").focus(); }
      else if (e.code === "secret_mismatch") { $("secret").value = ""; $("secret-again").value = ""; $("secret").focus(); }
      else if (e.code === "not_identified") { $("secret").value = ""; $("secret").focus(); }
      else if (e.code === "slow_down" || e.code === "kiosk_locked") {
        $("secret").value = "";
        held = true;
        holdStart(e.retryAfter || 1, e.code === "kiosk_locked" ? "kiosk" : "number");
      } else if (e.code === "locked") { $("secret").value = ""; }
    } finally {
      if (!held) $("start").disabled = false;
    }
  });
  // A different number is a different patient: forget the first-visit step.
  $("patient").addEventListener("input", () => {
    if (state.firstVisit) askAgain(false);
    if (state.holdScope === "number") releaseStart();
  });

  async function endSession(message) {
    if (state.controller) state.controller.abort();
    const token = state.token;
    if (token) { try { await api("POST", "/api/session/end"); } catch (e) { /* already ended */ } }
    resetToStart(message || "Session ended. Thank you!");
  }
  function resetToStart(message) {
    clearTimeout(state.idleTimer);
    state.token = null; state.patient = null; state.busy = false;
    $("log").replaceChildren();
    $("memories").replaceChildren();
    closePanel();
    show("start");
    say(message || "");
    setTimeout(() => say(""), 8000);
    $("patient").focus();
  }
  $("end").addEventListener("click", () => endSession());

  // ---------- chat: POST /v1/chat/completions, stream=true, read SSE from the body ----------
  $("send-form").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("msg").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); send(); }
  });

  async function send() {
    const text = $("msg").value.trim();
    if (!text || state.busy || !state.token) return;
    state.busy = true; $("send").disabled = true;
    $("msg").value = "";
    bubble("user", text);
    const li = bubble("assistant", "", "pending");
    const out = li.querySelector(".text");
    $("log").setAttribute("aria-busy", "true");
    const t0 = performance.now();
    let first = null, server = null, flagged = false;
    state.controller = new AbortController();
    try {
      const res = await fetch("/v1/chat/completions", {
        method: "POST", signal: state.controller.signal,
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + state.token },
        body: JSON.stringify({ model: "edgemem", stream: true, messages: [{ role: "user", content: text }] }),
      });
      if (!res.ok) {
        let data = null; try { data = await res.json(); } catch (e) { /* not JSON */ }
        throw apiError(res, data);
      }
      await readEvents(res.body, (chunk) => {
        if (chunk.error) throw new Error(chunk.error.message);
        const ext = chunk.edgemem;
        if (ext && ext.red_flag && ext.red_flag.tier === "urgent") { urgent(ext.red_flag); }
        else if (ext && ext.red_flag) { flagged = true; li.classList.add("alert"); emergency(ext.red_flag); }
        if (ext && ext.timing) server = ext.timing;
        if (ext && ext.based_on && ext.based_on.length) {
          const src = document.createElement("small");
          src.className = "based-on";
          src.textContent = "Based on: " + ext.based_on.join(", ");
          li.appendChild(src);
        }
        const c = chunk.choices && chunk.choices[0];
        const piece = c && c.delta && c.delta.content;
        if (piece) {
          if (first === null) { first = performance.now(); li.classList.remove("pending"); }
          out.textContent += piece;
          li.scrollIntoView({ block: "end" });
        }
      });
      if (!out.textContent) out.textContent = "(no reply)";
      li.dataset.done = "1";
      metrics.timings.push({ page_ttft_ms: first === null ? null : first - t0,
        total_ms: performance.now() - t0, red_flag: flagged, server });
      loadMemories();
    } catch (e) {
      li.remove();
      if (e.name === "AbortError") return;
      if (e.status === 401) { resetToStart("Your session ended. Please start again."); return; }
      if (e.status === 429) note("The assistant is busy. Please send again in " + (e.retryAfter || 2) + " seconds.");
      else note("Sorry, something went wrong: " + e.message);
      $("msg").value = text;
    } finally {
      li.classList.remove("pending");
      $("log").setAttribute("aria-busy", "false");
      state.busy = false; $("send").disabled = false; state.controller = null;
      if (state.token && $("emergency").hidden) $("msg").focus();  // the banner keeps focus
    }
  }

  // Server-sent events from a fetch body: "data: {...}\n\n" frames, ending with "data: [DONE]".
  async function readEvents(body, onChunk) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, cut); buf = buf.slice(cut + 2);
        for (const line of frame.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") return;
          onChunk(JSON.parse(data));
        }
      }
    }
  }

  // ---------- memory panel ----------
  async function loadMemories() {
    if (!state.token) return 0;
    let data;
    try { data = await api("GET", "/api/session/memories"); } catch (e) { return 0; }
    const list = $("memories");
    list.replaceChildren();
    // Facts first (allergies, medication, conditions...), visit summaries after them.
    const items = (data.memories || []).slice().sort((a, b) => (a.tier === "summary") - (b.tier === "summary"));
    for (const m of items) {
      const id = m.memory_id !== undefined ? m.memory_id : m.id;
      const text = m.text || m.content || m.summary || "";
      const li = document.createElement("li");
      li.dataset.id = String(id);
      const span = document.createElement("span");
      span.className = "text";
      const kind = m.tier === "summary" ? "visit summary" : (m.kind && m.kind !== "other" ? m.kind : "");
      if (kind) { const k = document.createElement("span"); k.className = "kind"; k.textContent = kind; span.append(k); }
      const body = document.createElement("span");
      body.className = "body";
      body.textContent = text;
      span.append(body);
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "Delete";
      del.setAttribute("aria-label", "Delete memory: " + text);
      del.addEventListener("click", () => deleteMemory(id, li));
      li.append(span, del);
      list.append(li);
    }
    $("memories-empty").hidden = list.children.length > 0;
    return list.children.length;
  }
  async function deleteMemory(id, li) {
    try {
      await api("DELETE", "/api/session/memories/" + encodeURIComponent(id));
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      $("memories-empty").hidden = $("memories").children.length > 0;
      (next ? next.querySelector("button") : $("forget")).focus();
      say("Memory deleted.");
    } catch (e) { say("Could not delete: " + e.message); }
  }
  function openPanel() {
    $("memory-panel").classList.add("open");
    $("memory-toggle").setAttribute("aria-expanded", "true");
    loadMemories();
    $("memory-close").focus();
  }
  function closePanel() {
    $("memory-panel").classList.remove("open");
    $("memory-toggle").setAttribute("aria-expanded", "false");
  }
  $("memory-toggle").addEventListener("click", openPanel);
  $("memory-close").addEventListener("click", () => { closePanel(); $("memory-toggle").focus(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && $("memory-panel").classList.contains("open")) { closePanel(); $("memory-toggle").focus(); }
  });

  // "Forget me": a confirmation dialog, then erase and sign out.
  $("forget").addEventListener("click", () => { $("forget-dialog").showModal(); $("forget-cancel").focus(); });
  $("forget-cancel").addEventListener("click", () => $("forget-dialog").close());
  $("forget-confirm").addEventListener("click", async () => {
    $("forget-dialog").close();
    try {
      await api("POST", "/api/session/forget", { confirm: true });
      resetToStart("Everything about you has been forgotten.");
    } catch (e) { say("Could not forget: " + e.message); }
  });

  // ---------- large text, privacy notice ----------
  function setLarge(on) {
    document.documentElement.classList.toggle("large", on);
    $("large-text").setAttribute("aria-pressed", String(on));
    try { localStorage.setItem("edgemem.large", on ? "1" : ""); } catch (e) { /* private mode */ }
  }
  $("large-text").addEventListener("click", () => setLarge(!document.documentElement.classList.contains("large")));
  try { setLarge(localStorage.getItem("edgemem.large") === "1"); } catch (e) { /* no storage */ }
  function togglePrivacy(open) {
    $("privacy").hidden = !open;
    $("privacy-toggle").setAttribute("aria-expanded", String(open));
    if (open) $("privacy-close").focus();
  }
  $("privacy-toggle").addEventListener("click", () => togglePrivacy($("privacy").hidden));
  $("privacy-more").addEventListener("click", () => togglePrivacy(true));
  $("privacy-close").addEventListener("click", () => { togglePrivacy(false); $("privacy-toggle").focus(); });

  // ---------- start-up: the emergency number and readiness come from the server ----------
  async function boot() {
    try {
      const c = await api("GET", "/api/config");
      state.emergencyNumber = c.emergency_number;
      setIdentify(c.identify || "number");
      document.querySelectorAll(".emergency-number").forEach((el) => { el.textContent = c.emergency_number; });
      if (!c.ready) {
        // "starting" while the model loads; anything else is for staff (e.g. no bundle applied).
        say(c.reason && c.reason !== "starting" ? "The assistant is not available yet (" + c.reason + ")."
          : "The assistant is starting…");
        setTimeout(boot, 3000);
        return;
      }
      say("");
    } catch (e) { say("Waiting for the assistant…"); setTimeout(boot, 3000); return; }
    document.body.dataset.ready = "1";
  }
  show("start");
  $("patient").focus();
  boot();
})();
