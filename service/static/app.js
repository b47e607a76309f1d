// The web page: upload an EXR to /v1/denoise, fetch linear previews of the input and the
// result from /v1/preview, tonemap them here (so the exposure slider needs no round trip),
// and offer the denoised EXR for download. No libraries: the page must work offline.
"use strict";

const $ = (id) => document.getElementById(id);
const GAMMA = 2.2;  // the project's tonemap: T(v) = (v / (1 + v))^(1/2.2), as in color.py
const state = { noisy: null, denoised: null, url: null };

function headers() {
  const key = $("key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.detail || body.error}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function loadModels() {
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) {
      $("settings").open = true;
      setStatus("This server needs an API key: enter it under Settings.", true);
    }
    return;
  }
  const body = await response.json();
  const select = $("model");
  select.replaceChildren();
  for (const model of body.models) {
    const option = new Option(`${model.name} (${model.inputs.join(" + ")})`, model.name);
    option.selected = model.name === body.default;
    select.add(option);
  }
}

// A preview: {width, height, pixels: Float32Array of linear RGB}.
async function preview(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const response = await fetch("/v1/preview", { method: "POST", body: form, headers: headers() });
  if (!response.ok) throw new Error(`preview: ${await errorText(response)}`);
  return {
    width: Number(response.headers.get("X-Preview-Width")),
    height: Number(response.headers.get("X-Preview-Height")),
    pixels: new Float32Array(await response.arrayBuffer()),
  };
}

function tonemapped(image, exposure) {
  const scale = Math.pow(2, exposure);
  const out = new ImageData(image.width, image.height);
  const src = image.pixels, dst = out.data;
  for (let i = 0, j = 0; i < src.length; i += 3, j += 4) {
    for (let c = 0; c < 3; c++) {
      const v = Math.max(0, src[i + c] * scale);
      dst[j + c] = 255 * Math.pow(v / (1 + v), 1 / GAMMA) + 0.5;
    }
    dst[j + 3] = 255;
  }
  return out;
}

function draw() {
  if (!state.noisy || !state.denoised) return;
  const exposure = Number($("exposure").value);
  $("exposure-value").textContent = `${exposure.toFixed(1)} EV`;
  const noisy = tonemapped(state.noisy, exposure);
  const denoised = tonemapped(state.denoised, exposure);
  for (const [id, image] of [["noisy", noisy], ["denoised", denoised]]) {
    const canvas = $(id);
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext("2d").putImageData(image, 0, 0);
  }
  // Split view: noisy left of the line, denoised right of it.
  const canvas = $("compare");
  canvas.width = noisy.width;
  canvas.height = noisy.height;
  const split = Math.round(noisy.width * Number($("split").value) / 100);
  const mixed = new ImageData(noisy.width, noisy.height);
  for (let y = 0; y < noisy.height; y++) {
    const row = y * noisy.width * 4;
    mixed.data.set(noisy.data.subarray(row, row + split * 4), row);
    mixed.data.set(denoised.data.subarray(row + split * 4, row + noisy.width * 4), row + split * 4);
  }
  const context = canvas.getContext("2d");
  context.putImageData(mixed, 0, 0);
  context.fillStyle = "#ffcc00";
  context.fillRect(Math.max(0, split - 1), 0, 1, noisy.height);
}

async function denoise(file) {
  $("result").hidden = true;
  document.body.dataset.state = "working";
  setStatus(`Denoising ${file.name}…`);
  const started = performance.now();
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("precision", $("precision").value);
    if ($("model").value) form.append("model", $("model").value);
    form.append("nonfinite", $("repair").checked ? "repair" : "refuse");
    const [response, noisy] = await Promise.all([
      fetch("/v1/denoise", { method: "POST", body: form, headers: headers() }),
      preview(file, file.name).catch((error) => error),
    ]);
    if (!response.ok) throw new Error(await errorText(response));
    if (noisy instanceof Error) throw noisy;
    const result = await response.blob();
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="?([^";]+)"?/);
    const seconds = (performance.now() - started) / 1000;
    state.noisy = noisy;
    state.denoised = await preview(result, "denoised.exr");
    if (state.url) URL.revokeObjectURL(state.url);
    state.url = URL.createObjectURL(result);
    $("download").href = state.url;
    $("download").download = name ? name[1] : "denoised.exr";
    $("result").hidden = false;
    draw();
    const repaired = response.headers.get("X-Nonfinite-Repaired");
    setStatus(`${file.name}: denoised with ${response.headers.get("X-Model")} in ` +
              `${seconds.toFixed(2)} s (${(result.size / 1048576).toFixed(2)} MiB)` +
              (repaired ? `; ${repaired} NaN/Inf values repaired.` : "."));
    document.body.dataset.state = "done";
  } catch (error) {
    setStatus(String(error.message || error), true);
    document.body.dataset.state = "error";
  }
}

$("file").addEventListener("change", () => {
  if ($("file").files.length) denoise($("file").files[0]);
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) denoise(event.dataTransfer.files[0]);
});
$("exposure").addEventListener("input", draw);
$("split").addEventListener("input", draw);
for (const radio of document.querySelectorAll("input[name=view]")) {
  radio.addEventListener("change", () => {
    const split = document.querySelector("input[name=view]:checked").value === "split";
    $("side").hidden = split;
    $("split-view").hidden = !split;
    $("split-control").hidden = !split;
  });
}
$("key").addEventListener("change", loadModels);
$("settings-form").addEventListener("submit", (event) => event.preventDefault());
loadModels();
