// Promptism Studio: a page over the server's /api/jobs (queue a job, poll its progress, show its
// pictures) and the history. No build step, no dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem("promptism-key") || "";
let busy = false;

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401) {
    $("key-button").hidden = false;
    askKey();
    throw new Error("this server needs an API key");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
  return body;
}

function askKey() {
  const k = window.prompt("API key for this server (kept in this browser):", apiKey);
  if (k !== null) { apiKey = k.trim(); localStorage.setItem("promptism-key", apiKey); }
}

// pictures are fetched with the key when there is one (an <img> cannot send headers)
async function pictureURL(url) {
  if (!apiKey) return url;
  const res = await fetch(url, { headers: { Authorization: "Bearer " + apiKey } });
  return URL.createObjectURL(await res.blob());
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setBusy(on, text) {
  busy = on;
  for (const b of document.querySelectorAll("button:not(.ghost)")) b.disabled = on;
  $("status").hidden = !on;
  $("status-text").textContent = text || "";
  if (!on) $("bar-fill").style.width = "0";
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function settings() {
  return {
    n: Number($("n").value), size: $("size").value, seed: number("seed"),
    negative_prompt: $("negative").value.trim() || undefined, sampler: $("sampler").value || undefined,
    steps: number("steps"), guidance_prior: number("guidance_prior"), guidance_decoder: number("guidance_decoder"),
    guidance_text: number("guidance_text"), rerank: number("rerank"),
  };
}

const STAGES = { prior: "prior", decoder: "decoder", invert: "inverting", inpaint: "repainting" };

let currentJob = null;

async function cancelJob() {
  if (!currentJob) return;
  $("status-text").textContent = "cancelling…";
  try {
    await api("/api/jobs/" + currentJob + "/cancel", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    });
  } catch (e) {
    showError(e.message);
  }
}

async function runJob(body, label) {
  if (busy) return;
  showError("");
  setBusy(true, label + ": queued");
  try {
    const { id } = await api("/api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    currentJob = id;
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      const job = await api("/api/jobs/" + id);
      if (job.progress) {
        const p = job.progress;
        const stage = STAGES[p.stage] || p.stage;
        $("status-text").textContent = `${label}: ${stage} ${p.done}/${p.total}`;
        $("bar-fill").style.width = Math.round((100 * p.done) / p.total) + "%";
      } else if (job.status === "running") {
        $("status-text").textContent = label + ": starting";
      }
      if (job.status === "done") {
        localStorage.setItem("promptism-last", job.id);
        await showJob(job);
        break;
      }
      if (["failed", "cancelled", "refused"].includes(job.status)) throw new Error(job.error || job.status);
    }
  } catch (e) {
    showError(e.message);
  } finally {
    currentJob = null;
    setBusy(false);
    loadHistory();
  }
}

async function showJob(job) {
  const box = $("results");
  box.innerHTML = "";
  $("results-title").hidden = false;
  const what = job.params.prompt || job.params.source || "";
  $("results-title").textContent = job.kind === "generate" ? what : `${job.kind}: ${what}`;
  const all = document.createElement("a");
  all.id = "download-all"; all.className = "all"; all.textContent = "Download all (zip)";
  all.download = `promptism-${job.id}.zip`;
  all.href = await pictureURL(`/api/jobs/${job.id}/zip`);
  $("results-title").append(" ", all);
  for (let i = 0; i < job.files.length; i++) {
    const name = job.files[i];
    const card = document.createElement("div");
    card.className = "picture";
    const img = document.createElement("img");
    img.alt = `${job.params.prompt || job.kind}, seed ${job.seeds[i]}`;
    img.dataset.name = name;
    img.src = await pictureURL("/images/" + name);
    const meta = document.createElement("div");
    meta.className = "meta";
    const seed = document.createElement("span");
    seed.textContent = "seed " + job.seeds[i];
    const dl = document.createElement("a");
    dl.href = img.src; dl.download = name; dl.textContent = "Download";
    const vary = document.createElement("button");
    vary.type = "button"; vary.className = "ghost vary"; vary.textContent = "Variations";
    vary.onclick = () => runJob({ kind: "variation", source: name, ...settings() }, "Variations");
    const edit = document.createElement("button");
    edit.type = "button"; edit.className = "ghost edit"; edit.textContent = "Edit";
    edit.onclick = () => openEditor(name, img.src);
    meta.append(seed, dl, vary, edit);
    img.onclick = () => openLightbox(img.src, img.alt);
    card.append(img, meta);
    box.append(card);
  }
}

// --- the mask editor: paint on the picture; the mask (white = repaint) has the picture's size ---
const editor = { name: null, picture: new Image(), mask: document.createElement("canvas"), painting: false, undo: [] };

// the mask before each stroke, for Undo (Ctrl+Z)
function snapshot() {
  const m = editor.mask.getContext("2d");
  editor.undo.push(m.getImageData(0, 0, editor.mask.width, editor.mask.height));
  if (editor.undo.length > 30) editor.undo.shift();
}

function undoStroke() {
  const last = editor.undo.pop();
  if (!last) return;
  editor.mask.getContext("2d").putImageData(last, 0, 0);
  draw();
}

function openEditor(name, src) {
  editor.name = name;
  editor.picture.onload = () => {
    editor.mask.width = editor.picture.naturalWidth;
    editor.mask.height = editor.picture.naturalHeight;
    editor.undo = [];
    clearMask();
    $("editor").hidden = false;
    $("editor").scrollIntoView({ behavior: "smooth" });
  };
  editor.picture.src = src;
}

function clearMask() {
  const m = editor.mask.getContext("2d");
  m.fillStyle = "#000";
  m.fillRect(0, 0, editor.mask.width, editor.mask.height);
  draw();
}

function draw() {
  const c = $("canvas"), g = c.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, c.width, c.height);
  g.drawImage(editor.picture, 0, 0, c.width, c.height);
  // the painted part, shown as a translucent red
  const tint = document.createElement("canvas");
  tint.width = editor.mask.width; tint.height = editor.mask.height;
  const t = tint.getContext("2d");
  t.drawImage(editor.mask, 0, 0);
  const px = t.getImageData(0, 0, tint.width, tint.height);
  for (let i = 0; i < px.data.length; i += 4) {
    const on = px.data[i] > 127;
    px.data[i] = 230; px.data[i + 1] = 40; px.data[i + 2] = 40; px.data[i + 3] = on ? 140 : 0;
  }
  t.putImageData(px, 0, 0);
  g.drawImage(tint, 0, 0, c.width, c.height);
}

function maskPoint(ev) {
  const r = $("canvas").getBoundingClientRect();
  return [((ev.clientX - r.left) / r.width) * editor.mask.width, ((ev.clientY - r.top) / r.height) * editor.mask.height];
}

// a stroke from the last point to this one, so fast strokes leave no gaps
function paintTo(ev) {
  const [x, y] = maskPoint(ev);
  const [x0, y0] = editor.last || [x, y];
  const m = editor.mask.getContext("2d");
  m.strokeStyle = m.fillStyle = $("eraser").checked ? "#000" : "#fff";  // white = repaint
  m.lineCap = "round";
  m.lineWidth = Math.max((2 * Number($("brush").value) / 512) * editor.mask.width, 1);
  m.beginPath(); m.moveTo(x0, y0); m.lineTo(x, y); m.stroke();
  m.beginPath(); m.arc(x, y, m.lineWidth / 2, 0, 2 * Math.PI); m.fill();
  editor.last = [x, y];
  draw();
}

$("canvas").addEventListener("pointerdown", (ev) => {
  snapshot();
  editor.painting = true; editor.last = null; $("canvas").setPointerCapture(ev.pointerId); paintTo(ev);
});
$("canvas").addEventListener("pointermove", (ev) => { if (editor.painting) paintTo(ev); });
$("canvas").addEventListener("pointerup", () => { editor.painting = false; editor.last = null; });
$("clear-mask").onclick = () => { snapshot(); clearMask(); };
$("undo").onclick = undoStroke;
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && !$("editor").hidden) { ev.preventDefault(); undoStroke(); }
});
$("close-editor").onclick = () => { $("editor").hidden = true; };
$("repaint").onclick = () => {
  const mask = editor.mask.toDataURL("image/png").split(",")[1];
  runJob({ kind: "edit", source: editor.name, mask, prompt: $("edit-prompt").value.trim(), ...settings() }, "Repaint");
};

// --- history -------------------------------------------------------------------------------------
async function loadHistory() {
  let jobs;
  try { jobs = (await api("/api/jobs?limit=60")).jobs; } catch (e) { return; }
  const box = $("history");
  box.innerHTML = "";
  for (const job of jobs) {
    if (job.status === "queued" || job.status === "running") continue;
    const fig = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `${job.kind}: ${job.params.prompt || job.params.source || ""}`;
    caption.title = caption.textContent + (job.error ? " (" + job.error + ")" : "");
    if (job.status === "done" && job.files.length) {
      const img = document.createElement("img");
      img.alt = caption.textContent;
      img.src = await pictureURL("/images/" + job.files[0]);
      fig.append(img);
      fig.onclick = () => { useSettings(job); showJob(job); };
    } else {
      const f = document.createElement("div");
      f.className = "failed";
      f.textContent = job.error ? `${job.status}: ${job.error}` : job.status;
      fig.append(f);
      fig.onclick = () => useSettings(job);
    }
    fig.append(caption);
    box.append(fig);
  }
}

// --- the form: what a history tile used, and what survives a reload ------------------------------
const FORM_FIELDS = ["prompt", "n", "negative", "seed", "sampler", "steps", "guidance_prior", "guidance_decoder",
                     "guidance_text", "rerank"];

function saveForm() {
  const values = {};
  for (const id of FORM_FIELDS) values[id] = $(id).value;
  localStorage.setItem("promptism-form", JSON.stringify(values));
}

function restoreForm() {
  let values = {};
  try { values = JSON.parse(localStorage.getItem("promptism-form") || "{}"); } catch (e) { return; }
  for (const id of FORM_FIELDS) if (values[id] !== undefined) $(id).value = values[id];
}

function useSettings(job) {
  const p = job.params, s = p.settings || {};
  if (job.kind === "generate" && p.prompt) $("prompt").value = p.prompt;
  $("negative").value = p.negative_prompt || "";
  if (job.seeds && job.seeds.length) $("seed").value = job.seeds[0];
  else if (p.seed !== undefined) $("seed").value = p.seed;
  for (const id of ["sampler", "steps", "guidance_prior", "guidance_decoder", "guidance_text", "rerank"]) {
    $(id).value = s[id] === undefined ? "" : s[id];
  }
  saveForm();
}

// --- the lightbox: a picture at full size; Escape or a click closes it ----------------------------
function openLightbox(src, alt) {
  $("lightbox-img").src = src;
  $("lightbox-img").alt = alt || "";
  $("lightbox").hidden = false;
}

$("lightbox").onclick = () => { $("lightbox").hidden = true; };
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  if (!$("lightbox").hidden) $("lightbox").hidden = true;
  else if (currentJob) cancelJob();
});
for (const id of FORM_FIELDS) $(id).addEventListener("input", saveForm);
$("n").addEventListener("change", saveForm);

async function init() {
  restoreForm();
  try {
    const info = await api("/api/info");
    for (const s of info.sizes) {
      const o = document.createElement("option");
      o.value = o.textContent = `${s}x${s}`;
      if (s === info.default_size) o.selected = true;
      $("size").append(o);
    }
  } catch (e) { showError(e.message); }
  const last = localStorage.getItem("promptism-last");
  if (last) {
    try { await showJob(await api("/api/jobs/" + last)); } catch (e) { localStorage.removeItem("promptism-last"); }
  }
  loadHistory();
}

$("cancel").addEventListener("click", cancelJob);
$("prompt-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  runJob({ kind: "generate", prompt, ...settings() }, "Generating");
});
$("prompt").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("prompt-form").requestSubmit(); }
});
$("key-button").onclick = askKey;
init();
