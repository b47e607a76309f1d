// The viewports: the 8-bit images drawn at full resolution under one zoom and pan shared by
// both viewports (and kept across compare modes), nearest-neighbour when zoomed in.
//
// The view maps image pixels to viewport device pixels: device = image * scale + offset.
// Scale 1 is one image pixel per device pixel (1:1). The canvases expose it for tests and
// scripts as data-zoom, data-offset-x and data-offset-y.

const MIN_SCALE = 1 / 64, MAX_SCALE = 64;

// root: the element holding the viewports (it takes the keys); canvases: [A, B] viewport
// canvases. scene() returns what to draw: {mode: side|split|flip|diff, width, height,
// a, b, diff (canvases of the 8-bit images, or null while missing), split (0..1 of the
// viewport's width), flip ("a" | "b"), waiting: {a, b} (text shown while an image is
// missing)}. onPointer(x, y) gets the image pixel under the pointer (null when off the image).
export function createViewer(root, canvases, scene, onPointer) {
  const view = { scale: 1, x: 0, y: 0, fitted: true, size: null };
  const dpr = () => window.devicePixelRatio || 1;

  // Canvas backing stores at the viewports' size in device pixels. When the first viewport
  // changes size (a compare mode with one viewport instead of two, a resized window), the
  // image point at its centre stays at its centre.
  function resize() {
    canvases.forEach((canvas, i) => {
      const w = Math.max(1, Math.round(canvas.clientWidth * dpr()));
      const h = Math.max(1, Math.round(canvas.clientHeight * dpr()));
      if (canvas.width === w && canvas.height === h) return;
      if (i === 0 && canvas.width > 1 && w > 1) {
        view.x += Math.round((w - canvas.width) / 2);
        view.y += Math.round((h - canvas.height) / 2);
      }
      canvas.width = w;
      canvas.height = h;
    });
  }

  // The first shown viewport's size, in device pixels (both are the same size when both show).
  const port = () => ({ w: canvases[0].width, h: canvases[0].height });

  function fit() {
    const s = scene();
    if (!s.width) return;
    resize();
    const { w, h } = port();
    const scale = Math.min(w / s.width, h / s.height);
    // Enlarged by a whole factor, so that every image pixel is the same number of screen pixels.
    view.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale >= 1 ? Math.floor(scale) : scale));
    view.x = Math.round((w - s.width * view.scale) / 2);
    view.y = Math.round((h - s.height * view.scale) / 2);
    view.fitted = true;
    draw();
  }

  // Zoom to `scale` keeping the image point under device point (cx, cy) where it is
  // (the viewport's centre when not given).
  function zoomTo(scale, cx, cy) {
    const { w, h } = port();
    if (cx === undefined) [cx, cy] = [w / 2, h / 2];
    scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
    view.x = cx - (cx - view.x) * (scale / view.scale);
    view.y = cy - (cy - view.y) * (scale / view.scale);
    view.scale = scale;
    // Whole device pixels at whole-number zooms, so that 1:1 is exactly one pixel per pixel.
    if (Number.isInteger(scale)) [view.x, view.y] = [Math.round(view.x), Math.round(view.y)];
    view.fitted = false;
    draw();
  }

  // Zoom in or out by powers of two, landing on them (…, 1/2, 1, 2, 4, …).
  function step(direction, cx, cy) {
    const k = Math.log2(view.scale);
    const next = direction > 0 ? Math.floor(k + 1e-6) + 1 : Math.ceil(k - 1e-6) - 1;
    zoomTo(Math.pow(2, next), cx, cy);
  }

  function drawImage(ctx, image) {
    ctx.setTransform(view.scale, 0, 0, view.scale, view.x, view.y);
    // Nearest neighbour from 1:1 up, so that every pixel of the render is seen as it is;
    // smoothing only when shrinking, where skipping pixels would alias.
    ctx.imageSmoothingEnabled = view.scale < 1;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, 0, 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  function waiting(ctx, canvas, text) {
    ctx.fillStyle = "#aaa";
    ctx.font = `${14 * dpr()}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.fillText(text || "", canvas.width / 2, canvas.height / 2);
  }

  function paint(canvas, image, text) {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (image) drawImage(ctx, image);
    else waiting(ctx, canvas, text);
    return ctx;
  }

  function draw() {
    const s = scene();
    resize();
    const [A, B] = canvases;
    const wait = s.waiting || {};
    if (s.mode === "side") {
      paint(A, s.a, wait.a);
      paint(B, s.b, wait.b);
    } else if (s.mode === "flip") {
      paint(A, s.flip === "b" ? s.b : s.a, s.flip === "b" ? wait.b : wait.a);
    } else if (s.mode === "diff") {
      paint(A, s.diff, wait.diff);
    } else {  // split: noisy left of the line, denoised right of it
      const ctx = paint(A, s.a, wait.a);
      const line = Math.round(A.width * s.split);
      if (s.b) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(line, 0, A.width - line, A.height);
        ctx.clip();
        paintClipped(ctx, s.b);
        ctx.restore();
      }
      ctx.fillStyle = "#ffcc00";
      ctx.fillRect(Math.min(A.width - 1, Math.max(0, line - 1)), 0, Math.max(1, dpr()), A.height);
    }
    for (const canvas of canvases) {
      canvas.dataset.zoom = String(view.scale);
      canvas.dataset.offsetX = String(view.x);
      canvas.dataset.offsetY = String(view.y);
    }
    root.dataset.zoom = String(view.scale);
    if (last) report(last);  // a zoom or pan moves the image under a still pointer
  }

  function paintClipped(ctx, image) {
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    drawImage(ctx, image);
  }

  // The image pixel under a pointer event on a viewport canvas, or null off the image.
  function pixelAt(event) {
    const canvas = event.target;
    if (!canvas || canvas.tagName !== "CANVAS") return null;
    const rect = canvas.getBoundingClientRect();
    const dx = (event.clientX - rect.left) * (canvas.width / rect.width);
    const dy = (event.clientY - rect.top) * (canvas.height / rect.height);
    const x = Math.floor((dx - view.x) / view.scale), y = Math.floor((dy - view.y) / view.scale);
    const s = scene();
    return x >= 0 && y >= 0 && x < s.width && y < s.height ? { x, y, dx, dy } : { dx, dy };
  }

  function report(event) {
    const at = pixelAt(event);
    if (at && at.x !== undefined) onPointer(at.x, at.y);
    else onPointer(null, null);
  }

  let drag = null;
  let last = null;  // where the pointer last was over a viewport: {target, clientX, clientY}
  for (const canvas of canvases) {
    canvas.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, id: event.pointerId };
      canvas.setPointerCapture(event.pointerId);
      canvas.classList.add("dragging");
      root.focus({ preventScroll: true });
    });
    canvas.addEventListener("pointermove", (event) => {
      if (drag && drag.id === event.pointerId) {
        view.x += (event.clientX - drag.x) * dpr();
        view.y += (event.clientY - drag.y) * dpr();
        drag.x = event.clientX;
        drag.y = event.clientY;
        view.fitted = false;
        draw();
      }
      last = { target: canvas, clientX: event.clientX, clientY: event.clientY };
      report(event);
    });
    const end = (event) => {
      if (drag && drag.id === event.pointerId) drag = null;
      canvas.classList.remove("dragging");
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", () => {
      if (drag) return;
      last = null;
      onPointer(null, null);
    });
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const at = pixelAt(event);
      // A notch of a mouse wheel (100 px) zooms by 2^(1/3); trackpads send smaller steps.
      const delta = event.deltaMode === 1 ? event.deltaY * 33 : event.deltaY;
      zoomTo(view.scale * Math.pow(2, -delta / 300), at.dx, at.dy);  // draw() reports
    }, { passive: false });
  }

  new ResizeObserver(() => (view.fitted ? fit() : draw())).observe(canvases[0]);

  return {
    view, draw, fit, step,
    one: () => zoomTo(1),
    reset: () => { view.fitted = true; },
  };
}
