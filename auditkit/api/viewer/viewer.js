// The auditkit viewer: sign in with a token, page through a tenant's trail,
// open an event, and prove it in the browser (SHA-256 and Ed25519 with Web
// Crypto) against a public key the user pins. No dependency, no network but
// this server; everything from an event is shown as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: null, tenants: [], cursors: [null], page: 0, next: null, event: null };
const enc = new TextEncoder();

function setText(el, text, cls) {
  el.textContent = text;
  el.className = cls || "";
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  const res = await fetch(path, { ...options, headers, cache: "no-store" });
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`;
    try {
      const problem = await res.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) { /* not a problem document */ }
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return res;
}

// -- sign in --------------------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  try {
    const doc = await (await api("/v1/tenants")).json();
    sessionStorage.setItem("auditkit-token", token);
    state.tenants = doc.tenants.filter((t) => t.permissions.includes("read"));
    setText($("who"), `Signed in as ${doc.principal}`);
    const sel = $("tenant");
    sel.replaceChildren(...state.tenants.map((t) => new Option(t.tenant_id, t.tenant_id)));
    $("signin").hidden = true;
    $("trail").hidden = false;
    if (!state.tenants.length) {
      setText($("status"), "This token may not read any tenant.", "error");
      return;
    }
    await chooseTenant();
    sel.focus();
  } catch (err) {
    state.token = null;
    sessionStorage.removeItem("auditkit-token");
    setText($("signin-error"), `Sign-in failed: ${err.message}`, "error");
  }
}

function signOut() {
  sessionStorage.removeItem("auditkit-token");
  state.token = null;
  $("trail").hidden = true;
  $("detail").hidden = true;
  $("signin").hidden = false;
  setText($("who"), "");
  $("token").value = "";
  $("token").focus();
}

function tenantInfo() {
  return state.tenants.find((t) => t.tenant_id === $("tenant").value);
}

async function chooseTenant() {
  const info = tenantInfo();
  const box = $("export-buttons");
  box.replaceChildren();
  $("exports").hidden = true;
  if (info && info.permissions.includes("export")) {
    const formats = await (await api("/v1/formats")).json();
    for (const f of formats.export) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = f.name.toUpperCase();
      b.setAttribute("aria-label", `Export ${f.name}`);
      b.addEventListener("click", () => exportAs(f));
      box.append(b);
    }
    $("exports").hidden = false;
  }
  await reload();
}

// -- the paged table -----------------------------------------------------------------------
function query(extra) {
  const form = new FormData($("filters"));
  const params = new URLSearchParams({ order: "desc" });
  for (const key of ["start", "end", "actor", "action", "category", "outcome", "target", "q", "limit"]) {
    const v = (form.get(key) || "").trim();
    if (v) params.set(key, v);
  }
  for (const [k, v] of Object.entries(extra || {})) if (v) params.set(k, v);
  return params;
}

async function reload() {
  state.cursors = [null];
  state.page = 0;
  await showPage();
}

async function showPage() {
  const tenant = $("tenant").value;
  if (!tenant) return;
  setText($("status"), "Loading…");
  try {
    const params = query({ cursor: state.cursors[state.page] });
    const doc = await (await api(`/v1/tenants/${encodeURIComponent(tenant)}/events?${params}`)).json();
    state.next = doc.next_cursor;
    renderRows(doc.events);
    const red = doc.redacted ? " Personal data is redacted (keyed hashes) for your role." : "";
    setText($("status"), `${doc.events.length} event(s) on this page; the trail holds ${doc.tree_size}.${red}`);
    setText($("page-label"), `Page ${state.page + 1}`);
    $("prev").disabled = state.page === 0;
    $("next").disabled = !state.next;
  } catch (err) {
    renderRows([]);
    setText($("status"), err.message, "error");
  }
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function renderRows(events) {
  const rows = events.map((e) => {
    const tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.eventId = e.event_id;
    const target = (e.targets && e.targets[0]) ? e.targets[0].id : "";
    tr.append(
      cell(e.seq), cell((e.occurred_at || "").replace("T", " ").slice(0, 19)), cell(e.action),
      cell(e.outcome), cell(e.actor ? e.actor.id : ""), cell(target), cell(e.description, "desc"),
    );
    tr.setAttribute("aria-label", `Event ${e.seq}: ${e.action} by ${e.actor ? e.actor.id : "?"}`);
    tr.addEventListener("click", () => openEvent(e.event_id));
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); openEvent(e.event_id); }
    });
    return tr;
  });
  $("events").tBodies[0].replaceChildren(...rows);
}

// -- one event and its proof -------------------------------------------------------------------
async function openEvent(eventId) {
  const tenant = $("tenant").value;
  $("detail").hidden = false;
  setText($("verdict"), "");
  $("steps").replaceChildren();
  try {
    const doc = await (await api(
      `/v1/tenants/${encodeURIComponent(tenant)}/events/${encodeURIComponent(eventId)}`)).json();
    state.event = doc;
    $("record").textContent = JSON.stringify(doc.event, null, 2);
    $("verify").disabled = !doc.proof;
    if (!doc.proof) setText($("verdict"), `No proof for this role: ${doc.proof_note || ""}`);
  } catch (err) {
    state.event = null;
    $("record").textContent = "";
    $("verify").disabled = true;
    setText($("verdict"), `✘ Not proven: ${err.message}`, "bad");
  }
  $("detail").focus();
}

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text) {
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error(`not hex: ${text.slice(0, 20)}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 9162 section 2.1.3.2: the root that an inclusion path leads to.
async function rootFromPath(leaf, index, size, path) {
  if (index >= size) throw new Error("the leaf index is outside the tree");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("the path is longer than the tree allows");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(Uint8Array.of(1), p, r));
      if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
    } else {
      r = await sha256(concat(Uint8Array.of(1), r, p));
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the path is shorter than the tree needs");
  return r;
}

// -- the pinned key ---------------------------------------------------------------------------
// What may be pasted: the store's .pub file (PEM), or the JSON `auditkit checkpoint` writes,
// whose "public_key" is that PEM (and whose "key_id" is the SHA-256 of the raw key).
const PIN_HELP = "paste the store's public key: its .pub file (-----BEGIN PUBLIC KEY-----…) " +
  "or the JSON that `auditkit checkpoint` writes";
// SubjectPublicKeyInfo of an Ed25519 key: this 12-byte header, then the 32-byte key.
const ED25519_SPKI = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);

// The PEM text in what was pasted, and the key id a checkpoint file states (or null).
function pastedPem(text) {
  const t = (text || "").trim();
  if (!t) throw new Error(`nothing to pin: ${PIN_HELP}`);
  if (!t.startsWith("{")) return { pem: t, keyId: null };
  let doc;
  try { doc = JSON.parse(t); } catch (_) {
    throw new Error(`this looks like JSON but does not parse (was it cut short?): ${PIN_HELP}`);
  }
  if (!doc || typeof doc.public_key !== "string") {
    throw new Error(`this JSON has no "public_key", so it is not auditkit checkpoint's output: ${PIN_HELP}`);
  }
  return { pem: doc.public_key, keyId: typeof doc.key_id === "string" ? doc.key_id.toLowerCase() : null };
}

function pemBody(pem) {
  const m = pem.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
  if (!m) throw new Error(`this is not a PEM public key: ${PIN_HELP}`);
  // whitespace, and the "\n" of a PEM copied out of JSON, are not part of the key
  const b64 = m[1].replace(/\\n/g, "").replace(/\s+/g, "");
  let der;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error("not base64");
    der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch (_) {
    throw new Error("the text between the BEGIN and END lines is damaged (it is not base64): " +
      "copy the whole key again");
  }
  if (der.length !== 44 || !ED25519_SPKI.every((b, i) => der[i] === b)) {
    throw new Error("this PEM key is not an Ed25519 public key, which an auditkit store's key is");
  }
  return der;
}

function pemText(der) {
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g).join("\n")}\n-----END PUBLIC KEY-----\n`;
}

// The key in `text` (PEM or checkpoint JSON): its Web Crypto key, its id (the first 16 hex
// digits of the SHA-256 of the raw key, as checkpoints name it) and its PEM. Errors are
// sentences for the page, never a browser's own message.
async function readKey(text) {
  const { pem, keyId } = pastedPem(text);
  const der = pemBody(pem);
  const digest = hex(await sha256(der.slice(ED25519_SPKI.length)));
  if (keyId && keyId !== digest && keyId !== digest.slice(0, 16)) {
    throw new Error("the checkpoint file's key_id is not the fingerprint of its public_key: " +
      "the file is damaged; pin the store's .pub file instead");
  }
  let key;
  try {
    key = await crypto.subtle.importKey("spki", der, { name: "Ed25519" }, false, ["verify"]);
  } catch (_) {
    throw new Error("this browser cannot check Ed25519 signatures with Web Crypto: use a current one");
  }
  return { key, id: digest.slice(0, 16), pem: pemText(der) };
}

async function pinnedKey() {
  const saved = localStorage.getItem("auditkit-pinned-key");
  if (!saved) throw new Error("no public key is pinned: paste the store's public key and pin it");
  return readKey(saved);
}

async function showPinned() {
  try {
    const { id } = await pinnedKey();
    setText($("pinned-id"), `Pinned key id: ${id}`);
  } catch (err) {
    setText($("pinned-id"), err.message);
  }
}

async function pinKey() {
  try {
    const { id, pem } = await readKey($("pinned-key").value);
    localStorage.setItem("auditkit-pinned-key", pem);
    $("pinned-key").value = pem;
    setText($("pinned-id"), `Pinned key id: ${id}`);
  } catch (err) {
    localStorage.removeItem("auditkit-pinned-key");
    setText($("pinned-id"), `Not pinned: ${err.message}`, "error");
  }
}

async function verifyEvent() {
  const steps = $("steps");
  steps.replaceChildren();
  const step = (ok, text) => {
    const li = document.createElement("li");
    li.textContent = `${ok ? "✔" : "✘"} ${text}`;
    li.className = ok ? "ok" : "bad";
    steps.append(li);
    if (!ok) throw new Error(text);
  };
  try {
    const doc = state.event;
    if (!doc || !doc.proof) throw new Error("no proof to check");
    const proof = doc.proof, cp = proof.checkpoint, ev = doc.event;
    let record;
    try { record = JSON.parse(proof.canonical); } catch (_) { record = null; }
    step(record && record.event_id === ev.event_id && record.seq === ev.seq &&
         record.tenant_id === ev.tenant_id && record.action === ev.action &&
         record.occurred_at === ev.occurred_at,
         "the signed record is the event shown");
    const leaf = await sha256(concat(Uint8Array.of(0), enc.encode(proof.canonical)));
    step(proof.tree_size === cp.tree_size && cp.tenant_id === ev.tenant_id,
         `the proof is for the checkpoint of tenant ${cp.tenant_id} at size ${cp.tree_size}`);
    const root = await rootFromPath(leaf, proof.seq, proof.tree_size, proof.path.map(unhex));
    step(hex(root) === cp.root_hash,
         `SHA-256 of the record and its ${proof.path.length} path hashes give the signed root`);
    const { key, id } = await pinnedKey();
    step(cp.key_id === id, `the checkpoint names the pinned key (${id})`);
    const message = enc.encode(
      `auditkit-checkpoint/v1\n${cp.store_id}\n${cp.tenant_id}\n${cp.tree_size}\n` +
      `${cp.root_hash}\n${cp.timestamp}\n`);
    const sig = Uint8Array.from(atob(cp.signature), (c) => c.charCodeAt(0));
    const good = await crypto.subtle.verify({ name: "Ed25519" }, key, sig, message);
    step(good, "the Ed25519 signature over the checkpoint verifies with the pinned key");
    setText($("verdict"),
      `✔ Proven: event ${ev.seq} is in the signed log of ${cp.tenant_id} (size ${cp.tree_size}).`, "ok");
  } catch (err) {
    setText($("verdict"), `✘ Not proven: ${err.message}`, "bad");
  }
}

// -- exports --------------------------------------------------------------------------------
async function exportAs(fmt) {
  const tenant = $("tenant").value;
  const params = query({ format: fmt.name });
  const p = new URLSearchParams({ format: fmt.name });
  for (const k of ["start", "end"]) if (params.get(k)) p.set(k, params.get(k));
  setText($("status"), `Exporting ${fmt.name}…`);
  try {
    const res = await api(`/v1/tenants/${encodeURIComponent(tenant)}/export?${p}`);
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${tenant}-events${fmt.suffix}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    setText($("status"), `Exported ${blob.size} bytes as ${fmt.name}.`);
  } catch (err) {
    setText($("status"), `Export failed: ${err.message}`, "error");
  }
}

// -- wiring --------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setText($("signin-error"), "");
    signIn($("token").value.trim());
  });
  $("signout").addEventListener("click", signOut);
  $("tenant").addEventListener("change", chooseTenant);
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); reload(); });
  $("next").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors[state.page + 1] = state.next;
    state.page += 1;
    showPage();
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page -= 1;
    showPage();
  });
  $("close-detail").addEventListener("click", () => { $("detail").hidden = true; $("events").focus(); });
  $("pin").addEventListener("click", pinKey);
  $("verify").addEventListener("click", verifyEvent);
  $("pinned-key").value = localStorage.getItem("auditkit-pinned-key") || "";
  showPinned();
  const saved = sessionStorage.getItem("auditkit-token");
  if (saved) signIn(saved); else $("token").focus();
});
