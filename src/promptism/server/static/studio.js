// Promptism Studio: a page over the server's /api/jobs (queue a job, poll its progress, show its
// pictures) and the history. No build step, no dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem("promptism-key") || "";

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

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function settings() {
  return {
    model: $("model").value || undefined, n: Number($("n").value), size: $("size").value, seed: number("seed"),
    negative_prompt: $("negative").value.trim() || undefined, sampler: $("sampler").value || undefined,
    steps: number("steps"), guidance_prior: number("guidance_prior"), guidance_decoder: number("guidance_decoder"),
    guidance_text: number("guidance_text"), rerank: number("rerank"),
  };
}

const STAGES = { prior: "prior", decoder: "decoder", invert: "inverting", inpaint: "repainting" };

// the jobs this page queued and is following: id -> { row, label }; kept over a reload
const active = new Map();

function saveActive() {
  localStorage.setItem("promptism-active", JSON.stringify([...active].map(([id, a]) => [id, a.label])));
}

async function cancelJob(id) {
  const a = active.get(id);
  if (!a) return;
  a.row.querySelector(".job-text").textContent = a.label + ": cancelling…";
  try {
    await api("/api/jobs/" + id + "/cancel", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  } catch (e) {
    showError(e.message);
  }
}

function jobRow(id, label) {
  const row = document.createElement("div");
  row.className = "job";
  row.dataset.id = id;
  const text = document.createElement("div");
  text.className = "job-text";
  text.textContent = label + ": queued";
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("div");
  fill.className = "bar-fill";
  bar.append(fill);
  const preview = document.createElement("img");
  preview.className = "preview"; preview.alt = "the picture as it forms"; preview.hidden = true;
  const cancel = document.createElement("button");
  cancel.type = "button"; cancel.className = "ghost cancel"; cancel.textContent = "Cancel";
  cancel.onclick = () => cancelJob(id);
  const body = document.createElement("div");
  body.className = "job-body";
  body.append(text, bar, cancel);
  row.append(preview, body);
  $("queue").append(row);
  return row;
}

// queue a job from the page; several may wait and run at once, each followed on its own row
async function runJob(body, label) {
  showError("");
  let id;
  try {
    ({ id } = await api("/api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }));
  } catch (e) {
    showError(e.message);
    loadHistory();
    return;
  }
  follow(id, label);
}

// the energy this page's jobs used, shown under the queue
const session = { wh: 0, co2_g: 0, pictures: 0 };

function energyText(wh, co2) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  return `${fmt(wh)} Wh, ${fmt(co2)} g CO₂e`;
}

function countEnergy(job) {
  if (!job.energy) return;
  session.wh += job.energy.wh;
  session.co2_g += job.energy.co2_g;
  session.pictures += job.energy.pictures.length;
  const box = $("energy");
  box.hidden = false;
  box.textContent = `This session: ${energyText(session.wh, session.co2_g)} for ${session.pictures} pictures (measured by codecarbon)`;
}

async function follow(id, label) {
  const a = { row: jobRow(id, label), label };
  active.set(id, a);
  saveActive();
  const text = a.row.querySelector(".job-text"), fill = a.row.querySelector(".bar-fill");
  const preview = a.row.querySelector(".preview");
  try {
    for (;;) {
      const job = await api("/api/jobs/" + id);
      if (job.status === "queued") {
        text.textContent = job.queue_position ? `${label}: queued, ${ordinal(job.queue_position)} in line` : `${label}: queued`;
      } else if (job.progress) {
        const p = job.progress;
        text.textContent = `${label}: ${STAGES[p.stage] || p.stage} ${p.done}/${p.total}`;
        fill.style.width = Math.round((100 * p.done) / p.total) + "%";
        if (p.preview) { preview.src = p.preview; preview.hidden = false; }
      } else if (job.status === "running") {
        text.textContent = label + ": starting";
      }
      if (job.status === "done") {
        localStorage.setItem("promptism-last", job.id);
        countEnergy(job);
        a.row.remove();  // before the results move into its place
        await showJob(job);
        break;
      }
      if (["failed", "cancelled", "refused"].includes(job.status)) throw new Error(`${label}: ${job.error || job.status}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } catch (e) {
    showError(e.message);
  } finally {
    active.delete(id);
    saveActive();
    a.row.remove();
    loadHistory();
  }
}

function ordinal(n) {
  return n + (n % 10 === 1 && n % 100 !== 11 ? "st" : n % 10 === 2 && n % 100 !== 12 ? "nd" : n % 10 === 3 && n % 100 !== 13 ? "rd" : "th");
}

// a job's title: its prompt; a variation's names the prompt its source was drawn from
function jobTitle(job) {
  const p = job.params;
  if (job.kind === "generate") return p.prompt || "";
  if (job.kind === "variation") return p.source_prompt ? `variation of “${p.source_prompt}”` : `variation of ${p.source}`;
  if (job.kind === "dream") return p.source_prompt ? `dream of “${p.source_prompt}”` : `dream of ${p.source}`;
  return `edit: ${p.prompt || "(no prompt)"}` + (p.source_prompt ? ` in “${p.source_prompt}”` : "");
}

let shown = null;  // the job whose pictures are in the results (and the lightbox)
let showing = 0;  // the newest showJob: one that finishes after a newer one is dropped

async function showJob(job) {
  const mine = ++showing;
  const box = document.createDocumentFragment();
  const all = document.createElement("a");
  all.id = "download-all"; all.className = "all"; all.textContent = "Download all (zip)";
  all.download = `promptism-${job.id}.zip`;
  all.href = await pictureURL(`/api/jobs/${job.id}/zip`);
  for (let i = 0; i < job.files.length; i++) {
    const name = job.files[i];
    const card = document.createElement("div");
    card.className = "picture";
    const img = document.createElement("img");
    img.alt = `${jobTitle(job)}, seed ${job.seeds[i]}`;
    img.dataset.name = name;
    img.src = await pictureURL("/images/" + name);
    const meta = document.createElement("div");
    meta.className = "meta";
    const seed = document.createElement("span");
    seed.textContent = "seed " + job.seeds[i];
    const used = job.energy && job.energy.pictures.find((p) => p.file === name);
    if (used) {
      const energy = document.createElement("span");
      energy.className = "energy";
      energy.textContent = energyText(used.wh, used.co2_g);
      energy.title = "energy and CO₂-equivalent this picture took (codecarbon's estimate; see its provenance)";
      seed.append(" · ", energy);
    }
    const dl = document.createElement("a");
    dl.href = img.src; dl.download = name; dl.textContent = "Download";
    const vary = document.createElement("button");
    vary.type = "button"; vary.className = "ghost vary"; vary.textContent = "Variations";
    vary.onclick = () => runJob({ kind: "variation", source: name, ...settings() }, "Variations");
    const edit = document.createElement("button");
    edit.type = "button"; edit.className = "ghost edit"; edit.textContent = "Edit";
    edit.onclick = () => openEditor(name, img.src);
    const dream = document.createElement("button");
    dream.type = "button"; dream.className = "ghost dream"; dream.textContent = "Dream";
    dream.title = "DeepDream on this picture";
    dream.onclick = () => runJob({ kind: "dream", source: name }, "Dream");
    meta.append(seed, dl, vary, edit, dream);
    img.onclick = () => openLightbox(i);
    card.append(img, meta);
    box.append(card);
  }
  if (mine !== showing) return;
  shown = job;
  $("results-title").hidden = false;
  $("results-title").textContent = jobTitle(job);
  $("results-title").append(" ", all);
  $("results").replaceChildren(box);
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
    $("editor").scrollIntoView({ block: "start" });  // at once: a smooth scroll stops when the history reloads
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

// --- history: a gallery of every job's pictures, searched by prompt, a page at a time -------------
const PAGE = 24;
let historyNext = null;  // where the next page starts (a job's created time), or null at the end
let historyLoad = 0;  // the newest load: an older one that finishes later is dropped

async function loadHistory(more = false) {
  const mine = ++historyLoad;
  const q = $("search").value.trim();
  let page;
  try {
    const params = new URLSearchParams({ limit: PAGE });
    if (q) params.set("q", q);
    if (more && historyNext !== null) params.set("before", historyNext);
    page = await api("/api/jobs?" + params);
  } catch (e) { return; }
  const box = document.createDocumentFragment();
  for (const job of page.jobs) {
    if (job.status === "queued" || job.status === "running") continue;
    const title = `${job.kind}: ${jobTitle(job)}`;
    if (job.status === "done" && job.files.length) {
      for (let i = 0; i < job.files.length; i++) {
        const fig = document.createElement("figure");
        fig.dataset.job = job.id;
        const img = document.createElement("img");
        img.alt = title + ", seed " + job.seeds[i];
        img.src = await pictureURL("/images/" + job.files[i]);
        const caption = document.createElement("figcaption");
        caption.textContent = title;
        caption.title = title;
        fig.append(img, caption);
        fig.onclick = async () => { useSettings(job); await showJob(job); openLightbox(i); };
        box.append(fig);
      }
    } else {
      const fig = document.createElement("figure");
      const f = document.createElement("div");
      f.className = "failed";
      f.textContent = job.error ? `${job.status}: ${job.error}` : job.status;
      const caption = document.createElement("figcaption");
      caption.textContent = caption.title = title;
      fig.append(f, caption);
      fig.onclick = () => useSettings(job);
      box.append(fig);
    }
  }
  if (mine !== historyLoad) return;
  historyNext = page.next_before;
  $("more").hidden = historyNext === null;
  if (more) $("history").append(box);
  else $("history").replaceChildren(box);
  if (!$("history").children.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = q ? `Nothing in the history matches “${q}”.` : "Nothing yet.";
    $("history").append(empty);
  }
}

let searchTimer = null;
$("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadHistory(), 250); });
$("more").onclick = () => loadHistory(true);

// --- the form: what a history tile used, and what survives a reload ------------------------------
const FORM_FIELDS = ["prompt", "model", "n", "negative", "seed", "sampler", "steps", "guidance_prior", "guidance_decoder",
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
  if (p.model && [...$("model").options].some((o) => o.value === p.model)) $("model").value = p.model;
  $("negative").value = p.negative_prompt || "";
  if (job.seeds && job.seeds.length) $("seed").value = job.seeds[0];
  else if (p.seed !== undefined) $("seed").value = p.seed;
  for (const id of ["sampler", "steps", "guidance_prior", "guidance_decoder", "guidance_text", "rerank"]) {
    $(id).value = s[id] === undefined ? "" : s[id];
  }
  saveForm();
}

// --- the lightbox: the shown job's pictures at full size; arrows walk them, a click on the picture
// zooms, Escape or a click beside it closes ----------------------------------------------------------
let boxIndex = 0;

function openLightbox(i) {
  if (!shown || !shown.files.length) return;
  boxIndex = (i + shown.files.length) % shown.files.length;
  const card = $("results").children[boxIndex];
  const img = card.querySelector("img");
  $("lightbox-img").src = img.src;
  $("lightbox-img").alt = img.alt;
  $("lightbox-img").classList.remove("zoomed");
  $("lightbox-caption").textContent = `${img.alt} (${boxIndex + 1} of ${shown.files.length})`;
  $("lb-download").href = img.src;
  $("lb-download").download = shown.files[boxIndex];
  $("lightbox").hidden = false;
}

function closeLightbox() { $("lightbox").hidden = true; }

async function deleteShown() {
  const name = shown.files[boxIndex];
  if (!window.confirm(`Delete ${name}? This cannot be undone.`)) return;
  try {
    await api("/api/pictures/" + name, { method: "DELETE", headers: { "Content-Type": "application/json" }, body: "{}" });
  } catch (e) { showError(e.message); return; }
  const job = await api("/api/jobs/" + shown.id);
  await showJob(job);
  loadHistory();
  if (job.files.length) openLightbox(Math.min(boxIndex, job.files.length - 1));
  else closeLightbox();
}

$("lightbox").onclick = (ev) => { if (ev.target === $("lightbox")) closeLightbox(); };
$("lightbox-img").onclick = () => $("lightbox-img").classList.toggle("zoomed");
$("lb-prev").onclick = () => openLightbox(boxIndex - 1);
$("lb-next").onclick = () => openLightbox(boxIndex + 1);
$("lb-close").onclick = closeLightbox;
$("lb-vary").onclick = () => { closeLightbox(); runJob({ kind: "variation", source: shown.files[boxIndex], ...settings() }, "Variations"); };
$("lb-edit").onclick = () => { closeLightbox(); openEditor(shown.files[boxIndex], $("lightbox-img").src); };
$("lb-dream").onclick = () => { closeLightbox(); runJob({ kind: "dream", source: shown.files[boxIndex] }, "Dream"); };
$("lb-use").onclick = () => { useSettings(shown); closeLightbox(); };
$("lb-delete").onclick = deleteShown;

// keys: Ctrl+Enter generates, Escape closes the lightbox or cancels the newest job, arrows walk
// the lightbox, Delete deletes its picture
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); $("prompt-form").requestSubmit(); return; }
  const open = !$("lightbox").hidden;
  if (ev.key === "Escape") {
    if (open) closeLightbox();
    else if (active.size) cancelJob([...active.keys()].pop());
  } else if (open && ev.key === "ArrowLeft") openLightbox(boxIndex - 1);
  else if (open && ev.key === "ArrowRight") openLightbox(boxIndex + 1);
  else if (open && ev.key === "Delete") deleteShown();
});
for (const id of FORM_FIELDS) $(id).addEventListener("input", saveForm);
$("n").addEventListener("change", saveForm);

// the size menu offers what the chosen model makes
let studioInfo = null;

function fillSizes() {
  const m = studioInfo.models.find((x) => x.id === $("model").value) || studioInfo.models[0];
  const keep = $("size").value;
  $("size").innerHTML = "";
  for (const s of m.sizes) {
    const o = document.createElement("option");
    o.value = o.textContent = `${s}x${s}`;
    if (`${s}x${s}` === keep || (!m.sizes.some((x) => `${x}x${x}` === keep) && s === m.default_size)) o.selected = true;
    $("size").append(o);
  }
}

async function init() {
  restoreForm();
  try {
    const info = await api("/api/info");
    for (const m of info.models) {
      const o = document.createElement("option");
      o.value = m.id; o.textContent = m.name;
      $("model").append(o);
    }
    restoreForm();  // again, now that the model menu has its choices
    studioInfo = info;
    fillSizes();
    $("model").addEventListener("change", fillSizes);
  } catch (e) { showError(e.message); }
  const last = localStorage.getItem("promptism-last");
  if (last) {
    try { await showJob(await api("/api/jobs/" + last)); } catch (e) { localStorage.removeItem("promptism-last"); }
  }
  let following = [];
  try { following = JSON.parse(localStorage.getItem("promptism-active") || "[]"); } catch (e) { following = []; }
  for (const [id, label] of following) follow(id, label);  // jobs queued before a reload
  loadHistory();
}

$("prompt-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  runJob({ kind: "generate", prompt, ...settings() }, "Generating");
});
$("prompt").addEventListener("keydown", (ev) => {
  // Enter generates, Shift+Enter breaks the line (Ctrl+Enter is the page's own key, below)
  if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) { ev.preventDefault(); $("prompt-form").requestSubmit(); }
});
// the knobs panel: the server's GAN redrawn as the sliders move (the newest request wins)
let knobsInfo = null, knobsDrawing = 0, knobsURL = null;
async function knobsDraw() {
  const ticket = ++knobsDrawing;
  const amounts = [...document.querySelectorAll("#knobs-sliders input")].map((s) => Number(s.value));
  const headers = { "Content-Type": "application/json" };
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  const body = { seed: Number($("knobs-seed").value) || 0, truncation: Number($("knobs-trunc").value), amounts };
  try {
    const res = await fetch("/api/knobs/draw", { method: "POST", headers, body: JSON.stringify(body) });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || res.statusText);
    }
    const blob = await res.blob();
    if (ticket !== knobsDrawing) return;  // a newer position is on its way
    if (knobsURL) URL.revokeObjectURL(knobsURL);
    knobsURL = URL.createObjectURL(blob);
    $("knobs-img").src = knobsURL;
    $("knobs-status").textContent = `seed ${body.seed}`;
  } catch (e) { $("knobs-status").textContent = e.message; }
}
async function knobsOpen() {
  if (knobsInfo || !$("knobs-details").open) return;
  $("knobs-status").textContent = "finding the knobs (once per server)…";
  try { knobsInfo = await api("/api/knobs"); } catch (e) { $("knobs-status").textContent = e.message; return; }
  for (const k of knobsInfo.knobs) {
    const row = document.createElement("label");
    row.className = "knob";
    const name = document.createElement("span");
    name.textContent = `${k.index}: ${k.name}`;
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: -knobsInfo.range, max: knobsInfo.range, step: 0.1, value: 0 });
    slider.setAttribute("aria-label", `knob ${k.index}: ${k.name}`);
    const out = document.createElement("output");
    out.textContent = "0";
    slider.addEventListener("input", () => { out.textContent = Number(slider.value).toFixed(1); knobsDraw(); });
    row.append(name, slider, out);
    $("knobs-sliders").append(row);
  }
  knobsDraw();
}
$("knobs-details").addEventListener("toggle", knobsOpen);
$("knobs-seed").addEventListener("input", knobsDraw);
$("knobs-trunc").addEventListener("input", knobsDraw);
$("knobs-random").onclick = () => { $("knobs-seed").value = Math.floor(Math.random() * 100000); knobsDraw(); };
$("knobs-reset").onclick = () => {
  for (const s of document.querySelectorAll("#knobs-sliders input")) s.value = 0;
  for (const o of document.querySelectorAll("#knobs-sliders output")) o.textContent = "0";
  knobsDraw();
};
$("key-button").onclick = askKey;
init();
