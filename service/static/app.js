// The web page: EXR frames dropped here go to the job API one at a time (POST /v1/jobs, then
// polling GET /v1/jobs/{id}), each with its own entry in the list; the selected frame's
// layers come back as raw linear float32 (GET /v1/jobs/{id}/pixels) and are shown at full
// resolution with the noisy and denoised images side by side, split, flipped or differenced.
// Exposure, view transform and layer are applied here, so changing them costs no request.
// No libraries and no build step: the page must work offline, served by the app itself.
import { displayImage, differenceImage, range, REL_EPS } from "/static/display.js";
import { createViewer } from "/static/viewer.js";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["done", "failed", "cancelled"]);
const POLL_MS = [150, 1000];  // first and longest wait between polls of a job
const MAX_RETRY_S = 120;      // a longer Retry-After is shortened to this

// ---------------------------------------------------------------- requests

function headers() {
  const key = $("key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// "STATUS: detail" from an error answer ({"error", "detail"} JSON, or whatever came).
function errorText(status, statusText, text) {
  try {
    const body = JSON.parse(text);
    return `${status}: ${body.detail || body.error}`;
  } catch {
    return `${status} ${statusText || ""}`.trim();
  }
}

async function responseError(response) {
  return errorText(response.status, response.statusText, await response.text());
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function needsKey(status) {
  if (status !== 401 && status !== 403) return false;
  $("settings").open = true;
  setStatus("This server needs an API key: enter it under Settings.", true);
  return true;
}

async function loadModels() {
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    needsKey(response.status);
    return;
  }
  if ($("status").className === "error") setStatus("");
  const body = await response.json();
  const select = $("model");
  const chosen = select.value;  // kept when the list is asked for again (a new key)
  select.replaceChildren();
  for (const model of body.models) {
    const option = new Option(`${model.name} (${model.inputs.join(" + ")})`, model.name);
    option.selected = chosen ? model.name === chosen : model.name === body.default;
    select.add(option);
  }
  if (!select.value) select.value = body.default;
}

// A multipart POST through XMLHttpRequest, for its upload progress (fetch has none).
// Resolves to {status, statusText, text, header(name)}; rejects on a network error.
function postForm(job, url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = job.xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => resolve({
      status: xhr.status, statusText: xhr.statusText, text: xhr.responseText,
      header: (name) => xhr.getResponseHeader(name),
    });
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.onabort = () => reject(new Error("cancelled"));
    xhr.onloadend = () => { job.xhr = null; };
    xhr.send(form);
  });
}

// ---------------------------------------------------------------- jobs

// A job: {file, name, id, state, progress, phase, error, width, height, model, layers,
// retryIn, element}. state is the server's (queued, running, done, failed, cancelled), or
// "waiting" (not sent yet), "uploading" or "retrying" (the server was busy).
const jobs = [];
let running = false;

function addFiles(files) {
  const added = [];
  for (const file of files) {
    const job = { file, name: file.name, id: null, state: "waiting", progress: 0, phase: "",
                  error: null, layers: null };
    jobs.push(job);
    jobEntry(job);
    added.push(job);
  }
  if (!added.length) return;
  $("jobs-title").hidden = false;
  if (!selected) select(added[0]);
  runJobs();
}

function jobEntry(job) {
  const li = document.createElement("li");
  li.className = "job";
  li.innerHTML = `
    <button type="button" class="job-select" aria-pressed="false"></button>
    <progress class="job-progress" max="1" value="0"></progress>
    <span class="job-state"></span>
    <p class="job-error" hidden></p>
    <span class="job-actions">
      <a class="job-download button" hidden>Download</a>
      <button type="button" class="job-cancel" hidden>Cancel</button>
      <button type="button" class="job-retry" hidden>Retry</button>
    </span>`;
  li.querySelector(".job-select").textContent = job.name;
  li.querySelector(".job-select").addEventListener("click", () => select(job));
  li.querySelector(".job-download").addEventListener("click", (event) => download(event, job));
  li.querySelector(".job-cancel").addEventListener("click", () => cancel(job));
  li.querySelector(".job-retry").addEventListener("click", () => {
    Object.assign(job, { state: "waiting", id: null, error: null, progress: 0, layers: null,
                         cancelled: false });
    showJob(job);
    if (selected === job) select(job);
    runJobs();
  });
  $("jobs").append(li);
  job.element = li;
  showJob(job);
  return li;
}

// The entry's text, bar and links from the job's state.
function showJob(job) {
  const li = job.element;
  if (!li) return;
  li.dataset.state = job.state;
  // The page's state, for scripts and tests: working while any job is, then error if any
  // failed, else done.
  document.body.dataset.state = jobs.some((j) => !FINAL.has(j.state)) ? "working"
    : jobs.some((j) => j.state === "failed") ? "error" : "done";
  li.dataset.id = job.id || "";
  let text;
  if (job.state === "waiting") text = "waiting for the frames before it";
  else if (job.state === "uploading") text = `uploading ${Math.round(100 * job.progress)}%`;
  else if (job.state === "retrying") text = `server busy: retrying in ${job.retryIn} s`;
  else if (job.state === "done") text = `done${job.width ? `, ${job.width}×${job.height}` : ""}` +
                                        `${job.model ? ` with ${job.model}` : ""}`;
  else text = `${job.state}${job.phase && job.phase !== job.state ? `: ${job.phase}` : ""}` +
              (job.state === "running" ? ` ${Math.round(100 * job.progress)}%` : "");
  li.querySelector(".job-state").textContent = text;
  const bar = li.querySelector(".job-progress");
  bar.value = job.state === "done" ? 1 : job.progress || 0;
  bar.setAttribute("aria-label", `${job.name}: ${text}`);
  const error = li.querySelector(".job-error");
  error.hidden = !job.error || job.state === "cancelled";
  error.textContent = job.error || "";
  const link = li.querySelector(".job-download");
  link.hidden = job.state !== "done";
  if (job.state === "done") {
    link.href = `/v1/jobs/${job.id}/result`;
    link.download = downloadName(job.name);
    link.textContent = `Download ${link.download}`;
  }
  li.querySelector(".job-retry").hidden = job.state !== "failed" && job.state !== "cancelled";
  li.querySelector(".job-cancel").hidden = FINAL.has(job.state);
  if (job === selected) {
    showTitle();
    viewer.draw();  // the "denoising…" text in place of the missing result
  }
}

function downloadName(name) {
  return `${name.replace(/\.exr$/i, "")}_denoised.exr`;
}

// Cancel a job: one not sent yet, or waiting out a busy server, is simply not sent; an upload
// is aborted; one the server holds is cancelled there (DELETE), and the poll sees it.
async function cancel(job) {
  job.cancelled = true;
  if (job.xhr) job.xhr.abort();
  if (!job.id || ["waiting", "retrying", "uploading"].includes(job.state)) {
    Object.assign(job, { state: "cancelled", error: null, phase: "" });
    showJob(job);
    return;
  }
  const response = await fetch(`/v1/jobs/${job.id}`, { method: "DELETE", headers: headers() });
  if (response.status === 200) update(job, await response.json());
  else if (!response.ok) {
    setStatus(`${job.name}: cancel failed: ${await responseError(response)}`, true);
  }
}

async function runJobs() {
  if (running) return;
  running = true;
  try {
    for (let job; (job = jobs.find((j) => j.state === "waiting"));) await runJob(job);
  } finally {
    running = false;
  }
}

function fail(job, message) {
  Object.assign(job, { state: "failed", error: message });
  showJob(job);
  setStatus(`${job.name}: ${message}`, true);
}

async function runJob(job) {
  if (!(await submit(job))) return;
  let wait = POLL_MS[0];
  while (!FINAL.has(job.state)) {
    await sleep(wait);
    wait = Math.min(POLL_MS[1], wait * 1.5);
    let response;
    try {
      response = await fetch(`/v1/jobs/${job.id}`, { headers: headers() });
    } catch {
      continue;  // the server restarting or a network blip: ask again
    }
    if (response.status === 503) continue;
    if (!response.ok) {
      needsKey(response.status);
      fail(job, `while polling: ${await responseError(response)}`);
      return;
    }
    update(job, await response.json());
    if (!FINAL.has(job.state)) {
      setStatus(`${job.name}: ${job.phase || job.state} ${Math.round(100 * (job.progress || 0))}%`);
    }
    if (!job.layers && job.state !== "queued") await loadLayers(job);
  }
  if (job.state === "done") {
    if (!job.layers) await loadLayers(job);
    setStatus(`${job.name}: denoised${job.model ? ` with ${job.model}` : ""}.`);
  } else if (job.state === "cancelled") {
    setStatus(`${job.name}: cancelled.`);
  } else {
    fail(job, job.error || job.state);
  }
}

// POST the file; a busy server (503) is asked again after its Retry-After, counting down.
// True once the job is accepted.
async function submit(job) {
  for (;;) {
    if (job.cancelled) return false;
    Object.assign(job, { state: "uploading", progress: 0, error: null });
    showJob(job);
    setStatus(`Uploading ${job.name}…`);
    const form = new FormData();
    form.append("file", job.file, job.name);
    form.append("precision", $("precision").value);
    if ($("model").value) form.append("model", $("model").value);
    form.append("nonfinite", $("repair").checked ? "repair" : "refuse");
    let response;
    try {
      response = await postForm(job, "/v1/jobs", form, (fraction) => {
        job.progress = fraction;
        showJob(job);
      });
    } catch (error) {
      if (!job.cancelled) fail(job, error.message);
      return false;
    }
    if (response.status === 503) {
      const seconds = Number.parseInt(response.header("Retry-After"), 10);
      const wait = Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, MAX_RETRY_S) : 2;
      await countdown(job, wait,
                      errorText(response.status, response.statusText, response.text));
      continue;
    }
    if (response.status !== 202 && response.status !== 200) {
      needsKey(response.status);
      fail(job, errorText(response.status, response.statusText, response.text));
      return false;
    }
    Object.assign(job, { progress: 0 });
    update(job, JSON.parse(response.text));
    return true;
  }
}

async function countdown(job, seconds, why) {
  for (let left = Math.max(1, seconds); left > 0 && !job.cancelled; left--) {
    Object.assign(job, { state: "retrying", retryIn: left, progress: 0 });
    showJob(job);
    setStatus(`${job.name}: ${why}. Retrying in ${left} s…`);
    await sleep(1000);
  }
}

// Take the server's view of the job.
function update(job, body) {
  const wasDone = job.state === "done";
  Object.assign(job, {
    id: body.id || job.id, state: body.state, progress: body.progress ?? job.progress,
    phase: body.phase || "", width: body.width ?? job.width, height: body.height ?? job.height,
    model: body.model ?? job.model,
    error: body.error ? `${body.error.detail || body.error.error}` : null,
  });
  if (Array.isArray(body.layers) && body.layers.length && !job.layers) setLayers(job, body);
  showJob(job);
  if (job === selected && job.state === "done" && !wasDone) refresh();
}

async function loadLayers(job) {
  const response = await fetch(`/v1/jobs/${job.id}/layers`, { headers: headers() });
  if (response.ok) setLayers(job, await response.json());
  // 409: not decoded yet; the next poll asks again.
}

function setLayers(job, body) {
  job.layers = body.layers;
  job.width = body.width ?? job.width;
  job.height = body.height ?? job.height;
  if (job === selected) {
    fillLayers(job);
    refresh();
  }
}

// The denoised file is fetched when asked for (with the key, which a plain link cannot
// send), then saved under its name.
async function download(event, job) {
  event.preventDefault();
  const link = event.currentTarget;
  const response = await fetch(`/v1/jobs/${job.id}/result`, { headers: headers() });
  if (!response.ok) {
    setStatus(`${job.name}: download failed: ${await responseError(response)}`, true);
    return;
  }
  const named = (response.headers.get("Content-Disposition") || "").match(/filename="?([^";]+)"?/);
  const url = URL.createObjectURL(await response.blob());
  const save = document.createElement("a");
  save.href = url;
  save.download = named ? named[1] : link.download;
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------------------------------------------------------------- the viewer

// The selected job, its pixel layers (only the selected job's are kept: a 4K layer is
// 200 MB of floats) and the display settings.
let selected = null;
let cache = new Map();  // "ID/input/beauty" -> Promise of a layer (see display.js)
const settings = { mode: "side", layer: "beauty", flip: "a", split: 0.5 };
const images = { a: null, b: null, diff: null };  // the hidden canvases, once drawn
const shown = { a: null, b: null };               // the float layers behind them
let renders = 0;  // 8-bit recomputations, for tests: panning and zooming must not add any
let pointer = null;

const viewer = createViewer($("viewports"), [$("view-a"), $("view-b")], scene, (x, y) => {
  pointer = x === null ? null : { x, y };
  readout();
});

function scene() {
  const job = selected;
  const pending = (image) => {
    if (!job) return "";
    if (image === "b" && job.state !== "done") {
      if (FINAL.has(job.state)) return `no result (${job.state})`;
      if (!job.id) return "not sent yet";
      return `denoising… ${job.phase || job.state} ${Math.round(100 * (job.progress || 0))}%`;
    }
    return job.layers ? "loading…" : `waiting for ${job.name} (${job.state})`;
  };
  return {
    mode: settings.mode, split: settings.split, flip: settings.flip,
    width: job?.width || 0, height: job?.height || 0,
    a: images.a, b: images.b, diff: images.diff,
    waiting: { a: pending("a"), b: pending("b"), diff: pending("b") },
  };
}

function select(job) {
  if (selected !== job) {
    cache = new Map();
    viewer.reset();
  }
  selected = job;
  for (const j of jobs) {
    j.element?.querySelector(".job-select").setAttribute("aria-pressed", String(j === job));
    j.element?.classList.toggle("selected", j === job);
  }
  $("viewer").hidden = false;
  fillLayers(job);
  Object.assign(images, { a: null, b: null, diff: null });
  Object.assign(shown, { a: null, b: null });
  showTitle();
  refresh();
}

function showTitle() {
  const job = selected;
  if (!job) return;
  const size = job.width ? ` · ${job.width}×${job.height}` : "";
  $("viewer-title").textContent = `${job.name}${size} · ${job.state}`;
}

function fillLayers(job) {
  const select = $("layer");
  const current = settings.layer;
  select.replaceChildren();
  for (const layer of job.layers || [layerInfo(job, "beauty")]) {
    const option = new Option(`${layer.name} (${layer.channels.join(",")})`, layer.name);
    select.add(option);
  }
  const names = [...select.options].map((o) => o.value);
  settings.layer = names.includes(current) ? current : "beauty";
  select.value = settings.layer;
}

function layerInfo(job, name) {
  return (job.layers || []).find((l) => l.name === name) ||
         { name, kind: "color", channels: ["R", "G", "B"] };
}

// One layer of one image of the selected job, fetched once.
function pixels(job, image, layer) {
  const key = `${job.id}/${image}/${layer}`;  // a job sent again has a new id
  if (!cache.has(key)) {
    const url = `/v1/jobs/${job.id}/pixels?image=${image}&layer=${encodeURIComponent(layer)}`;
    const promise = fetch(url, { headers: headers() }).then(async (response) => {
      if (!response.ok) throw new Error(`${layer} pixels: ${await responseError(response)}`);
      const layerPixels = {
        width: Number(response.headers.get("X-Width")),
        height: Number(response.headers.get("X-Height")),
        channels: (response.headers.get("X-Channels") || "").split(",").filter(Boolean),
        data: new Float32Array(await response.arrayBuffer()),
      };
      if (!layerPixels.channels.length) {
        layerPixels.channels = layerInfo(job, layer).channels;
      }
      return layerPixels;
    });
    promise.catch(() => cache.delete(key));  // asked again on the next refresh
    cache.set(key, promise);
  }
  return cache.get(key);
}

// Fetch what the selected job can show now, and recompute the 8-bit images.
async function refresh() {
  const job = selected;
  if (!job || !job.id || !job.layers) {
    $("viewports").dataset.pending = "layers";
    viewer.draw();
    return;
  }
  $("viewports").dataset.pending = "pixels";
  const layer = settings.layer;
  // Exposure and the view transform apply to light only.
  $("exposure").disabled = $("transform").disabled = layerInfo(job, layer).kind !== "color";
  const wants = [pixels(job, "input", layer)];
  if (job.state === "done") wants.push(pixels(job, "output", layer));
  let got;
  try {
    got = await Promise.all(wants);
  } catch (error) {
    setStatus(`${job.name}: ${error.message}`, true);
    return;
  }
  if (job !== selected || layer !== settings.layer) return;  // the user moved on meanwhile
  [shown.a, shown.b] = [got[0], got[1] || null];
  if (viewer.view.fitted) viewer.fit();
  recompute();
}

function displaySettings() {
  return { exposure: Number($("exposure").value), transform: $("transform").value };
}

// The 8-bit images from the float layers for the current settings. Called only when a
// display setting, the layer or the mode changes (or pixels arrive); pan and zoom only draw.
function recompute() {
  const job = selected;
  if (!job || !shown.a) {
    viewer.draw();
    return;
  }
  const info = layerInfo(job, settings.layer);
  const depthRange = info.kind === "depth" ? range(shown.a, shown.b) : null;
  const options = { ...displaySettings(), depthRange };
  const put = (id, data) => {
    const canvas = $(id);
    canvas.width = data.width;
    canvas.height = data.height;
    canvas.getContext("2d").putImageData(data, 0, 0);
    return canvas;
  };
  if (settings.mode === "diff") {
    images.diff = shown.b ? put("image-diff", differenceImage(shown.a, shown.b, {
      relative: $("diff-kind").value === "rel", scale: diffScale() })) : null;
  } else {
    images.a = put("image-a", displayImage(shown.a, info.kind, options));
    images.b = shown.b ? put("image-b", displayImage(shown.b, info.kind, options)) : null;
  }
  renders += 1;
  // For tests and scripts: what is drawn, and whether more is coming for this job's state.
  $("viewports").dataset.renders = String(renders);
  $("viewports").dataset.layer = settings.layer;
  $("viewports").dataset.pending = job.state === "done" && !shown.b ? "output" : "";
  viewer.draw();
  readout();
}

const diffScale = () => Math.pow(2, Number($("diff-scale").value));

// The linear values of the shown layer under the pointer, for both images.
function readout() {
  const at = pointer;
  const values = (layer) => {
    if (!layer) return "—";
    const i = (at.y * layer.width + at.x) * layer.channels.length;
    return layer.channels.map((c, k) => `${c} ${format(layer.data[i + k])}`).join("  ");
  };
  if (!at || !shown.a) {
    $("readout-xy").textContent = "move the pointer over the image";
    $("readout-a").textContent = $("readout-b").textContent = "";
    $("readout").dataset.x = $("readout").dataset.y = "";
    return;
  }
  $("readout").dataset.x = String(at.x);
  $("readout").dataset.y = String(at.y);
  $("readout-xy").textContent = `x ${at.x}, y ${at.y} · ${settings.layer}`;
  $("readout-a").textContent = `noisy: ${values(shown.a)}`;
  $("readout-b").textContent = `denoised: ${values(shown.b)}`;
}

// Six significant digits: enough to tell half-float values apart.
function format(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-4 && a < 1e6 ? String(Number(v.toPrecision(6))) : v.toExponential(5);
}

function setMode(mode) {
  settings.mode = mode;
  document.querySelector(`input[name=mode][value=${mode}]`).checked = true;
  $("viewports").dataset.mode = mode;
  $("viewport-b").hidden = mode !== "side";
  $("split-control").hidden = mode !== "split";
  $("diff-control").hidden = mode !== "diff";
  labels();
  // The viewports change size: keep the fit if there was one.
  requestAnimationFrame(() => (viewer.view.fitted ? viewer.fit() : viewer.draw()));
  recompute();
}

function labels() {
  const mode = settings.mode;
  const kind = $("diff-kind").value === "rel" ? `|a−b|/(|b|+${REL_EPS})` : "|a−b|";
  const diff = `${kind} ×${diffScale()}`;
  $("label-a").textContent = {
    side: "A: noisy", split: "A: noisy | B: denoised", diff,
    flip: settings.flip === "a" ? "A: noisy" : "B: denoised",
  }[mode];
  $("label-a").dataset.image = mode === "flip" ? settings.flip : "";
  $("viewports").dataset.flip = settings.flip;
}

function flip() {
  if (settings.mode !== "flip") setMode("flip");
  settings.flip = settings.flip === "a" ? "b" : "a";
  labels();
  viewer.draw();
}

// ---------------------------------------------------------------- controls

$("file").addEventListener("change", () => {
  addFiles([...$("file").files]);
  $("file").value = "";  // the same file chosen again is a new job
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", () => drop.classList.remove("over"));
// Files dropped anywhere on the page are taken (the drop bubbles here from the drop zone); the
// browser would otherwise open the file and leave the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer?.files.length) addFiles([...event.dataTransfer.files]);
});

for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", () => setMode(radio.value));
}
$("layer").addEventListener("change", () => {
  settings.layer = $("layer").value;
  refresh();
});
$("exposure").addEventListener("input", () => {
  $("exposure-value").textContent = `${Number($("exposure").value).toFixed(1)} EV`;
  recompute();
});
$("transform").addEventListener("change", recompute);
$("diff-kind").addEventListener("change", () => { labels(); recompute(); });
$("diff-scale").addEventListener("input", () => {
  $("diff-scale-value").textContent = `×${diffScale()}`;
  labels();
  recompute();
});
$("split").addEventListener("input", () => {
  settings.split = Number($("split").value) / 100;
  viewer.draw();
});
$("zoom-fit").addEventListener("click", () => viewer.fit());
$("zoom-one").addEventListener("click", () => viewer.one());
$("zoom-in").addEventListener("click", () => viewer.step(+1));
$("zoom-out").addEventListener("click", () => viewer.step(-1));
new MutationObserver(() => {
  $("zoom-value").textContent = `${Math.round(100 * Number($("viewports").dataset.zoom))}%`;
}).observe($("viewports"), { attributes: true, attributeFilter: ["data-zoom"] });

// Keys work anywhere but in text fields and lists (where they mean typing or choosing).
document.addEventListener("keydown", (event) => {
  if ($("viewer").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const typing = "input:not([type=range]):not([type=radio]):not([type=checkbox]), select, textarea";
  if (target.matches?.(typing)) return;
  const onButton = target.matches?.("button, a, summary, input[type=radio], input[type=checkbox]");
  const actions = {
    "+": () => viewer.step(+1), "=": () => viewer.step(+1), "-": () => viewer.step(-1),
    "0": () => viewer.fit(), "f": () => viewer.fit(), "F": () => viewer.fit(),
    "1": () => viewer.one(), "b": flip, "B": flip, " ": flip,
  };
  // Space on a button or checkbox presses it; there only B flips.
  if (event.key === " " && onButton) return;
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

$("key").addEventListener("change", loadModels);
$("settings-form").addEventListener("submit", (event) => event.preventDefault());
setMode("side");
loadModels();
