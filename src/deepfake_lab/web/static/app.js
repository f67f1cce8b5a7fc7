// deepfake-lab page: upload, follow per-frame scores over server-sent events, overlay them on playback.
// Accessibility: every control is a button/input reachable by keyboard; stage changes, the verdict and errors go
// to one polite live region (#announce), per-frame values never do; the chart has a text summary.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { id: null, token: "", frames: [], times: [], media: null, chart: null, tracks: [], threshold: 0.5,
  es: null, poll: null, chartDirty: false, phase: null, duration: 0 };

// One line per aggregation rule (the full rule text is in the result's `aggregation.track`).
const RULES = {
  confident: "per face track, when many frames (over 40% and more than 11) score above 80% their mean, when over 90% "
    + "score below 20% their mean, else the mean of all; the file takes its highest track",
  mean: "per face track the mean of its frame scores; the file takes its highest track",
  max: "per face track its single highest frame score (sensitive to one-frame spikes); the file takes its highest track",
};
const WORDS = { manipulated: "Likely manipulated", uncertain: "Uncertain — needs review",
  authentic: "No sign of manipulation found", no_face: "No face found", not_evaluated: "Not evaluated",
  error: "Could not be scanned" };

function q(path) { // API URL, with the token as a query parameter for <video> and EventSource
  return state.token ? `${path}${path.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(state.token)}` : path;
}
function headers() { return state.token ? { Authorization: `Bearer ${state.token}` } : {}; }
function pct(p) { return p === null || p === undefined ? "–" : `${Math.round(p * 100)}%`; }
function secs(t) { return `${(t || 0).toFixed(2)} s`; }
function hue(p) { return 120 * (1 - Math.max(0, Math.min(1, p))); } // green (0) -> amber -> red (1)
function colour(p) { return `hsl(${hue(p)}, 85%, 45%)`; }
function textOn(p) { // black or white, whichever contrasts more with colour(p)
  const h = hue(p) / 360, s = 0.85, l = 0.45;
  const k = (n) => (n + h * 12) % 12, a = s * Math.min(l, 1 - l);
  const ch = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  const lin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const lum = 0.2126 * lin(ch(0)) + 0.7152 * lin(ch(8)) + 0.0722 * lin(ch(4));
  return (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? "#000" : "#fff";
}

function announce(msg) { // polite: read when the reader is idle; cleared first so a repeat is read again
  const el = $("announce");
  el.textContent = "";
  setTimeout(() => { el.textContent = msg; }, 50);
}

const PHASES = ["upload", "queued", "scanning"];
function setPhase(phase, text, fraction) {
  // phase: upload | queued | scanning | done | error; fraction null = indeterminate (queued)
  const changed = phase !== state.phase;
  state.phase = phase;
  const bar = $("bar");
  bar.dataset.phase = phase;
  const at = PHASES.indexOf(phase);
  for (const li of document.querySelectorAll(".phases li")) {
    const i = PHASES.indexOf(li.dataset.phase);
    li.classList.toggle("active", i === at);
    li.classList.toggle("done", phase === "done" || (at >= 0 && i < at));
  }
  if (fraction === null) { bar.removeAttribute("value"); $("stage-pct").textContent = ""; }
  else { bar.value = fraction; $("stage-pct").textContent = pct(fraction); }
  $("stage").textContent = text;
  if (changed && phase !== "done" && phase !== "error") announce(text);
}

function showError(msg) {
  clearInterval(state.poll);
  if (state.es) state.es.close();
  $("status").hidden = false;
  $("error").hidden = false;
  $("error").textContent = msg;
  setPhase("error", "Stopped", 0);
  $("stage-pct").textContent = "";
  announce(`Error: ${msg}`);
}

function upload(file) {
  reset();
  state.token = $("opt-token").value.trim();
  const threshold = $("opt-threshold").value.trim(); // empty: the detector card's calibrated band
  state.threshold = parseFloat(threshold) || 0.5; // the chart's line until the result names the band
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("detect_every", $("opt-detect-every").value);
  form.append("aggregation", $("opt-aggregation").value);
  if (threshold !== "") form.append("threshold", threshold);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v1/analyses");
  for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
  $("status").hidden = false;
  setPhase("upload", `Uploading ${file.name}…`, 0);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable && state.phase === "upload") setPhase("upload", `Uploading ${file.name}…`, e.loaded / e.total);
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status !== 202) { showError(body.error || `upload refused (HTTP ${xhr.status})`); return; }
    setPhase("queued", "Uploaded; queued, waiting for a free scanner…", null);
    start(body.id).catch((err) => showError(`the analysis could not be followed (${err.message || err})`));
  };
  xhr.onerror = () => showError("the upload failed (connection lost)");
  xhr.send(form);
}

async function getStatus(id) {
  const r = await fetch(`/api/v1/analyses/${id}`, { headers: headers() });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

async function start(id) {
  state.id = id;
  const st = await getStatus(id);
  state.media = st.media;
  state.duration = st.media.duration || 0;
  showStatus(st);
  $("viewer").hidden = false;
  const isVideo = st.kind === "video";
  const el = isVideo ? $("video") : $("image");
  el.hidden = false;
  $("controls").hidden = !isVideo;
  el.src = q(`/api/v1/analyses/${id}/media`);
  if (isVideo) {
    el.addEventListener("loadedmetadata", () => {
      if (Number.isFinite(el.duration) && el.duration > 0) state.duration = el.duration;
      $("seek").max = String(state.duration);
      draw();
    });
    el.addEventListener("timeupdate", draw);
    el.addEventListener("seeked", draw);
    el.addEventListener("play", () => { $("play").textContent = "Pause"; loop(); });
    el.addEventListener("pause", () => { $("play").textContent = "Play"; });
  } else {
    el.addEventListener("load", draw);
  }
  makeChart();
  state.es = new EventSource(q(`/api/v1/analyses/${id}/events`));
  state.es.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  state.es.addEventListener("end", (e) => {
    state.es.close();
    finish(JSON.parse(e.data)).catch((err) => showError(`the result could not be read (${err.message || err})`));
  });
  state.es.onerror = () => { if (state.es.readyState === EventSource.CLOSED) return; };
  state.poll = setInterval(progress, 700);
}

function addFrame(f) {
  state.frames.push(f);
  state.times.push(f.time);
  for (const face of f.faces) if (!state.tracks.includes(face.track)) { state.tracks.push(face.track); state.chartNew = true; }
  state.chartDirty = true;
}

function showStatus(st) {
  const p = st.progress;
  if (st.status === "queued") setPhase("queued", "Queued: waiting for a free scanner…", null);
  else if (st.status === "running") {
    const of = p.frames_total ? ` of ${p.frames_total}` : "";
    setPhase("scanning", `Scanning: ${p.frames_done}${of} frames, running score ${pct(p.running_score)}`,
      p.fraction === null ? null : p.fraction);
  }
}

async function progress() {
  if (!state.id || state.phase === "done" || state.phase === "error") return;
  let st;
  try { st = await getStatus(state.id); } catch (_) { return; }
  showStatus(st);
  if (state.chartDirty) updateChart();
}

async function finish(end) {
  clearInterval(state.poll);
  const st = await getStatus(state.id);
  if (st.status !== "done") { showError(st.message || end.message || `analysis ${st.status}`); return; }
  const file = st.result.files[0];
  state.frames = file.frames;
  state.times = file.frames.map((f) => f.time);
  state.tracks = [...new Set(file.frames.flatMap((f) => f.faces.map((x) => x.track)))];
  const band = st.result.verdicts || null; // the verdict band (scan schema with verdicts), else the threshold
  state.threshold = band ? band.threshold : st.result.aggregation.threshold;
  state.chartNew = true;
  updateChart();
  setPhase("done", `Done in ${file.seconds.toFixed(1)} s (${file.fps.toFixed(0)} frames/s)`, 1);
  const rule = st.result.aggregation.rule;
  const reason = file.reason ? `: ${(band && band.not_evaluated && band.not_evaluated[file.reason]) || file.reason}` : "";
  const words = (WORDS[file.verdict] || file.verdict) + reason;
  const v = $("verdict");
  v.hidden = false;
  v.className = `verdict ${file.verdict}`;
  $("verdict-badge").className = `badge ${file.verdict}`;
  $("verdict-badge").textContent = words;
  const source = band ? ({ card: "calibrated", option: "set by you", default: "not calibrated" }[band.source] || band.source)
    : "";
  $("verdict-text").textContent = (file.score === null ? "" : `score ${pct(file.score)}`)
    + (band ? ` (manipulated from ${pct(band.threshold)}, uncertain from ${pct(band.authentic_below)}, ${source}`
      : ` (threshold ${pct(state.threshold)}`) + `; model ${st.result.model.name})`;
  $("verdict-rule").textContent = `How the score is made (${rule} aggregation): ${RULES[rule] || st.result.aggregation.track}.`;
  $("verdict-rule").title = st.result.aggregation.track;
  $("timeline-summary").textContent = timelineSummary(file);
  announce(`Analysis done. ${words}${file.score === null ? "" : `, score ${pct(file.score)}`}.`);
  const sus = $("suspicious");
  sus.innerHTML = "";
  $("susp-title").hidden = !st.suspicious.length;
  $("susp-help").hidden = !st.suspicious.length || $("video").hidden;
  for (const s of st.suspicious) {
    const fig = document.createElement("figure");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.setAttribute("aria-label", `Jump to ${secs(s.time)}, face score ${pct(s.prob)}`);
    btn.title = "jump to this frame";
    btn.disabled = $("video").hidden;
    const img = document.createElement("img");
    img.src = q(`/api/v1/analyses/${state.id}/files/${s.file}`);
    img.alt = "";
    btn.append(img);
    btn.addEventListener("click", () => seek(s.time));
    const cap = document.createElement("figcaption");
    cap.textContent = `${pct(s.prob)} at ${secs(s.time)}`;
    fig.append(btn, cap);
    sus.append(fig);
  }
  const dl = $("downloads");
  dl.innerHTML = "";
  $("dl-title").hidden = false;
  for (const name of st.downloads.filter((n) => !n.startsWith("suspicious-"))) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = q(`/api/v1/analyses/${state.id}/files/${name}`);
    a.textContent = name;
    a.target = "_blank";
    li.append(a);
    dl.append(li);
  }
  draw();
}

function timelineSummary(file) { // the chart in words: tracks, peaks and the spans above the threshold
  const frames = file.frames;
  if (!frames.length) return "No frame was scanned.";
  const thr = state.threshold;
  const noFace = frames.filter((f) => !f.faces.length).length;
  const lines = [];
  if (state.media && state.frames.length === 1 && $("video").hidden) lines.push("Image:");
  else lines.push(`${frames.length} frames scanned from ${secs(frames[0].time)} to ${secs(frames[frames.length - 1].time)}; `
    + `${state.tracks.length} face track${state.tracks.length === 1 ? "" : "s"}; ${noFace} without a face.`);
  for (const tr of state.tracks) {
    const pts = [];
    for (const f of frames) for (const x of f.faces) if (x.track === tr && x.prob !== null) pts.push([f.time, x.prob]);
    if (!pts.length) continue;
    const top = pts.reduce((a, b) => (b[1] > a[1] ? b : a));
    const spans = [];
    for (const [t, p] of pts) {
      if (p >= thr) {
        const last = spans[spans.length - 1];
        if (last && last.open) last.to = t; else spans.push({ from: t, to: t, open: true });
      } else if (spans.length) spans[spans.length - 1].open = false;
    }
    const shown = spans.slice(0, 5).map((s) => (s.from === s.to ? `at ${secs(s.from)}` : `${secs(s.from)}–${secs(s.to)}`));
    const more = spans.length > 5 ? ` and ${spans.length - 5} more` : "";
    lines.push(`Face ${tr}: ${pts.length} frame${pts.length === 1 ? "" : "s"}, highest ${pct(top[1])} at ${secs(top[0])}; `
      + (spans.length ? `above the ${pct(thr)} threshold ${shown.join(", ")}${more}.` : `never above the ${pct(thr)} threshold.`));
  }
  return lines.join("\n");
}

function frameAt(t) { // the last scored frame at or before t (binary search over times)
  const ts = state.times;
  if (!ts.length) return null;
  let lo = 0, hi = ts.length - 1;
  if (t < ts[0] - 1e-3) return null;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ts[mid] <= t + 1e-3) lo = mid; else hi = mid - 1; }
  return state.frames[lo];
}

function mediaEnd() { // end of the time axis: the clip's duration, or the last scored frame when longer
  const last = state.times.length ? state.times[state.times.length - 1] : 0;
  return Math.max(state.duration || 0, last, 1e-3);
}

function seek(t) {
  const video = $("video");
  if (video.hidden) return;
  video.pause();
  video.currentTime = Math.max(0, Math.min(t, mediaEnd()));
  draw();
}

function step(dir) { // jump to the previous / next scored frame
  const t = $("video").currentTime, ts = state.times;
  if (!ts.length) return;
  const target = dir < 0 ? [...ts].reverse().find((x) => x < t - 1e-3) : ts.find((x) => x > t + 1e-3);
  if (target !== undefined) seek(target);
}

function draw() {
  const video = $("video"), image = $("image");
  const el = video.hidden ? image : video;
  const canvas = $("overlay");
  const t = video.hidden ? 0 : video.currentTime;
  if (!video.hidden) {
    $("clock").textContent = `${secs(t)} / ${secs(mediaEnd())}`;
    if (document.activeElement !== $("seek")) $("seek").value = String(t);
  }
  const w = el.clientWidth, h = el.clientHeight;
  if (!w || !h || !state.media) return;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr; canvas.height = h * dpr;
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const f = video.hidden ? state.frames[0] : frameAt(t);
  const label = $("overlay-pct");
  label.dataset.time = String(t);
  if (state.chart) state.chart.redraw(false, false);
  if (!f) { label.textContent = state.frames.length ? "–" : "scanning…"; return; }
  if (!f.faces.length) label.textContent = `${secs(f.time)}: no face`;
  const sx = w / state.media.width, sy = h / state.media.height;
  ctx.lineWidth = 3;
  ctx.font = "600 15px system-ui, sans-serif";
  for (const face of f.faces) {
    const [x0, y0, x1, y1] = face.box;
    const p = face.prob ?? 0;
    const grey = face.prob === null; // not scored (face too small / too blurry): no number to show
    ctx.strokeStyle = grey ? "#9ca3af" : colour(p);
    ctx.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
    const text = grey ? `not scored: ${(face.reason || "").replace("face_too_", "too ")}` : pct(face.prob);
    const tw = ctx.measureText(text).width + 10;
    // above the box when there is room, else just inside its top edge; never past the right edge
    const ly = y0 * sy >= 22 ? y0 * sy - 22 : Math.min(h - 22, Math.max(0, y0 * sy));
    const lx = Math.max(0, Math.min(x0 * sx, w - tw));
    ctx.fillStyle = grey ? "#4b5563" : colour(p);
    ctx.fillRect(lx, ly, tw, 22);
    ctx.fillStyle = grey ? "#fff" : textOn(p);
    ctx.fillText(text, lx + 5, ly + 16);
  }
  if (f.faces.length) {
    label.textContent = f.prob === null ? `${secs(f.time)}: not scored` : `${secs(f.time)}: manipulated: ${pct(f.prob)}`;
  }
}

function loop() {
  const video = $("video");
  draw();
  if (!video.paused && !video.ended) requestAnimationFrame(loop);
}

function chartData() {
  const xs = state.frames.map((f) => f.time);
  const ys = state.tracks.map((tr) => state.frames.map((f) => {
    const face = f.faces.find((x) => x.track === tr);
    return face && face.prob !== null ? face.prob : null;
  }));
  return [xs, ...ys, xs.map(() => state.threshold)];
}

function makeChart() {
  const el = $("chart");
  el.innerHTML = "";
  const palette = ["#b45309", "#2563eb", "#7c3aed", "#059669", "#db2777", "#0891b2"];
  const series = [{ label: "time (s)" },
    ...state.tracks.map((tr, i) => ({ label: `face ${tr}`, stroke: palette[i % palette.length], width: 2, spanGaps: false })),
    { label: "threshold", stroke: "#6b7280", dash: [6, 6], width: 1, points: { show: false } }];
  const opts = {
    width: Math.min(940, el.clientWidth || 940), height: 240, series,
    // the x axis spans the whole clip, so the marker stays visible after the last scored frame
    scales: { x: { time: false, range: (u, lo, hi) => [Math.min(0, lo ?? 0), Math.max(hi ?? 0, mediaEnd())] },
      y: { range: [0, 1] } },
    axes: [{ label: "time (s)" }, { label: "P(manipulated)", values: (u, v) => v.map((x) => `${Math.round(x * 100)}%`) }],
    hooks: { draw: [(u) => { // playback marker
      const video = $("video");
      if (video.hidden) return;
      const t = Math.max(u.scales.x.min, Math.min(video.currentTime, u.scales.x.max));
      const x = u.valToPos(t, "x", true);
      const ctx = u.ctx;
      ctx.save(); ctx.strokeStyle = "#111827"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
    }] },
  };
  state.chart = new uPlot(opts, chartData(), el);
  // uPlot toggles a series when its legend entry is clicked: make those entries keyboard buttons too
  el.querySelectorAll(".u-legend .u-series th").forEach((cell, i) => {
    if (i === 0) return; // the x (time) entry toggles nothing
    cell.tabIndex = 0;
    cell.setAttribute("role", "button");
    cell.setAttribute("aria-label", `Show or hide ${series[i].label}`);
    cell.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); cell.click(); }
    });
  });
  state.chartNew = false;
  state.chartDirty = false;
}

function updateChart() {
  if (!state.chart || state.chartNew) { makeChart(); return; }
  state.chart.setData(chartData());
  state.chartDirty = false;
}

function reset() {
  if (state.es) state.es.close();
  clearInterval(state.poll);
  Object.assign(state, { id: null, frames: [], times: [], tracks: [], media: null, chartNew: true, phase: null,
    duration: 0 });
  for (const id of ["viewer", "error", "verdict", "controls"]) $(id).hidden = true;
  $("video").pause();
  $("video").removeAttribute("src"); $("video").hidden = true;
  $("image").removeAttribute("src"); $("image").hidden = true;
  $("overlay-pct").textContent = "–";
  $("timeline-summary").textContent = "";
  $("bar").value = 0;
  $("bar").dataset.phase = "upload";
  $("stage-pct").textContent = "";
}

function showRule() { $("agg-help").textContent = `${$("opt-aggregation").value}: ${RULES[$("opt-aggregation").value]}.`; }

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
$("pick").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); e.target.value = ""; });
$("opt-aggregation").addEventListener("change", showRule);
$("play").addEventListener("click", () => { const v = $("video"); if (v.paused || v.ended) v.play(); else v.pause(); });
$("prev").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
$("seek").addEventListener("input", (e) => seek(parseFloat(e.target.value)));
$("again").addEventListener("click", () => { reset(); $("status").hidden = true; window.scrollTo(0, 0); $("pick").focus(); });
window.addEventListener("resize", draw);
showRule();
