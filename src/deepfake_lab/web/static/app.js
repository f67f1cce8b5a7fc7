// deepfake-lab page: upload, follow per-frame scores over server-sent events, overlay them on playback.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { id: null, token: "", frames: [], times: [], media: null, chart: null, tracks: [], threshold: 0.5,
  es: null, poll: null, chartDirty: false };

function q(path) { // API URL, with the token as a query parameter for <video> and EventSource
  return state.token ? `${path}${path.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(state.token)}` : path;
}
function headers() { return state.token ? { Authorization: `Bearer ${state.token}` } : {}; }
function pct(p) { return p === null || p === undefined ? "–" : `${Math.round(p * 100)}%`; }
function colour(p) { // green (0) -> amber -> red (1)
  const h = 120 * (1 - Math.max(0, Math.min(1, p)));
  return `hsl(${h}, 85%, 45%)`;
}

function showError(msg) {
  $("status").hidden = false;
  $("error").hidden = false;
  $("error").textContent = msg;
  $("stage").textContent = "Stopped";
}

function upload(file) {
  reset();
  state.token = $("opt-token").value.trim();
  const threshold = $("opt-threshold").value.trim(); // empty: the detector card's calibrated band
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("detect_every", $("opt-detect-every").value);
  form.append("aggregation", $("opt-aggregation").value);
  if (threshold !== "") form.append("threshold", threshold);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v1/analyses");
  for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
  $("status").hidden = false;
  $("stage").textContent = `Uploading ${file.name}…`;
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) { $("bar").value = e.loaded / e.total; $("stage-pct").textContent = pct(e.loaded / e.total); }
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status !== 202) { showError(body.error || `upload refused (HTTP ${xhr.status})`); return; }
    start(body.id);
  };
  xhr.onerror = () => showError("the upload failed (connection lost)");
  xhr.send(form);
}

async function start(id) {
  state.id = id;
  $("stage").textContent = "Scanning…";
  $("bar").value = 0;
  const st = await (await fetch(`/api/v1/analyses/${id}`, { headers: headers() })).json();
  state.media = st.media;
  $("viewer").hidden = false;
  const isVideo = st.kind === "video";
  const el = isVideo ? $("video") : $("image");
  el.hidden = false;
  el.src = q(`/api/v1/analyses/${id}/media`);
  if (isVideo) {
    el.addEventListener("loadedmetadata", draw);
    el.addEventListener("timeupdate", draw);
    el.addEventListener("seeked", draw);
    el.addEventListener("play", loop);
  } else {
    el.addEventListener("load", draw);
  }
  window.addEventListener("resize", draw);
  makeChart();
  state.es = new EventSource(q(`/api/v1/analyses/${id}/events`));
  state.es.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  state.es.addEventListener("end", (e) => { state.es.close(); finish(JSON.parse(e.data)); });
  state.es.onerror = () => { if (state.es.readyState === EventSource.CLOSED) return; };
  state.poll = setInterval(progress, 700);
}

function addFrame(f) {
  state.frames.push(f);
  state.times.push(f.time);
  for (const face of f.faces) if (!state.tracks.includes(face.track)) { state.tracks.push(face.track); state.chartNew = true; }
  state.chartDirty = true;
}

async function progress() {
  if (!state.id) return;
  const r = await fetch(`/api/v1/analyses/${state.id}`, { headers: headers() });
  if (!r.ok) return;
  const st = await r.json();
  const p = st.progress;
  if (p.fraction !== null) { $("bar").value = p.fraction; $("stage-pct").textContent = pct(p.fraction); }
  $("stage").textContent = st.status === "running"
    ? `Scanning: ${p.frames_done} frames, running score ${pct(p.running_score)}` : `Status: ${st.status}`;
  if (state.chartDirty) updateChart();
}

async function finish(end) {
  clearInterval(state.poll);
  const st = await (await fetch(`/api/v1/analyses/${state.id}`, { headers: headers() })).json();
  if (st.status !== "done") { showError(st.message || `analysis ${st.status}`); return; }
  const file = st.result.files[0];
  state.frames = file.frames;
  state.times = file.frames.map((f) => f.time);
  state.tracks = [...new Set(file.frames.flatMap((f) => f.faces.map((x) => x.track)))];
  state.threshold = st.result.aggregation.threshold;
  state.chartNew = true;
  updateChart();
  $("bar").value = 1;
  $("stage-pct").textContent = "100%";
  $("stage").textContent = `Done in ${file.seconds.toFixed(1)} s (${file.fps.toFixed(0)} frames/s)`;
  const v = $("verdict");
  v.hidden = false;
  v.className = `verdict ${file.verdict}`;
  const band = st.result.verdicts;
  const words = { manipulated: "Likely manipulated", uncertain: "Uncertain — review it", authentic: "No sign of manipulation found",
    not_evaluated: "Not evaluated", no_face: "No face found" };
  const reason = file.reason ? `: ${band.not_evaluated[file.reason] || file.reason}` : "";
  const source = { card: "calibrated", option: "set by you", default: "not calibrated" }[band.source] || band.source;
  v.textContent = `${words[file.verdict] || file.verdict}${reason}` + (file.score === null ? "" : ` — score ${pct(file.score)}`)
    + ` (${st.result.aggregation.rule} aggregation; manipulated from ${pct(band.threshold)}, uncertain from`
    + ` ${pct(band.authentic_below)}, ${source}; model ${st.result.model.name})`;
  const sus = $("suspicious");
  sus.innerHTML = "";
  $("susp-title").hidden = !st.suspicious.length;
  for (const s of st.suspicious) {
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.src = q(`/api/v1/analyses/${state.id}/files/${s.file}`);
    img.alt = `face at ${s.time.toFixed(2)} s`;
    img.title = "jump to this frame";
    img.onclick = () => { if (!$("video").hidden) { $("video").currentTime = s.time; } };
    const cap = document.createElement("figcaption");
    cap.textContent = `${pct(s.prob)} at ${s.time.toFixed(2)} s`;
    fig.append(img, cap);
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

function frameAt(t) { // the last scored frame at or before t (binary search over times)
  const ts = state.times;
  if (!ts.length) return null;
  let lo = 0, hi = ts.length - 1;
  if (t < ts[0]) return null;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ts[mid] <= t + 1e-3) lo = mid; else hi = mid - 1; }
  return state.frames[lo];
}

function draw() {
  const video = $("video"), image = $("image");
  const el = video.hidden ? image : video;
  const canvas = $("overlay");
  const w = el.clientWidth, h = el.clientHeight;
  if (!w || !h || !state.media) return;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr; canvas.height = h * dpr;
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const t = video.hidden ? 0 : video.currentTime;
  const f = video.hidden ? state.frames[0] : frameAt(t);
  const label = $("overlay-pct");
  if (!f) { label.textContent = state.frames.length ? "–" : "scanning…"; return; }
  if (!f.faces.length) { label.textContent = "no face"; label.style.background = "rgba(0,0,0,.65)"; }
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
    ctx.fillStyle = grey ? "#6b7280" : colour(p);
    ctx.fillRect(x0 * sx, Math.max(0, y0 * sy - 22), tw, 22);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x0 * sx + 5, Math.max(16, y0 * sy - 6));
  }
  if (f.faces.length && f.prob === null) { label.textContent = "not scored"; label.style.background = "rgba(0,0,0,.65)"; }
  if (f.faces.length && f.prob !== null) {
    label.textContent = `manipulated: ${pct(f.prob)}`;
    label.style.background = colour(f.prob ?? 0);
  }
  label.dataset.time = String(t);
  if (state.chart) state.chart.redraw(false, false);
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
    { label: "threshold", stroke: "#9ca3af", dash: [6, 6], width: 1, points: { show: false } }];
  const opts = {
    width: Math.min(940, el.clientWidth || 940), height: 240, series,
    scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: [{ label: "time (s)" }, { label: "P(manipulated)", values: (u, v) => v.map((x) => `${Math.round(x * 100)}%`) }],
    hooks: { draw: [(u) => { // playback marker
      const video = $("video");
      if (video.hidden) return;
      const x = u.valToPos(video.currentTime, "x", true);
      const ctx = u.ctx;
      ctx.save(); ctx.strokeStyle = "#111827"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
    }] },
  };
  state.chart = new uPlot(opts, chartData(), el);
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
  Object.assign(state, { id: null, frames: [], times: [], tracks: [], media: null, chartNew: true });
  for (const id of ["viewer", "error", "verdict"]) $(id).hidden = true;
  $("video").removeAttribute("src"); $("video").hidden = true;
  $("image").removeAttribute("src"); $("image").hidden = true;
  $("overlay-pct").textContent = "–";
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
$("again").addEventListener("click", () => { reset(); $("status").hidden = true; window.scrollTo(0, 0); });
