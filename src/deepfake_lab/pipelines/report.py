"""Self-contained HTML report of a scan: verdicts, a probability timeline per face track (inline SVG), the most
suspicious face crops with Grad-CAM overlays (base64 PNG), provenance findings and the model card.

The page has no external resources (no scripts, fonts or images from elsewhere), so it can be mailed or
archived as one file.

Example:
    >>> from deepfake_lab.pipelines.report import write_report
    >>> write_report(result, "scan.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np

from deepfake_lab.metrics.gradcam import grad_cam, overlay_heatmap
from deepfake_lab.pipelines.scan import (
    OUTPUT_MARK,
    DetectorModel,
    FileScan,
    ScanOptions,
    ScanResult,
    Suspicious,
    reason_text,
)

__all__ = [
    "VERDICT_TEXT",
    "band_text",
    "gradcam_overlays",
    "mask_overlays",
    "pick_suspicious",
    "render_report",
    "timeline_svg",
    "verdict_words",
    "write_report",
]

_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _png_b64(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cannot encode PNG")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def gradcam_overlays(model: DetectorModel, crops: list[np.ndarray]) -> list[np.ndarray | None]:
    """Grad-CAM overlays of face crops ((S, S, 3) uint8 RGB each); None for every crop when the detector has
    no spatial convolution layer (frequency detectors)."""
    if not crops:
        return []
    x = model.prepare(np.stack(crops)).contiguous()
    cams = grad_cam(model.net, x)
    if cams is None:
        return [None] * len(crops)
    return [overlay_heatmap(c, cam.cpu().numpy()) for c, cam in zip(crops, cams, strict=True)]


def mask_overlays(model: DetectorModel, crops: list[np.ndarray]) -> list[np.ndarray | None]:
    """Overlays of the detector's own manipulation heatmap (sigmoid of its ``mask`` output: where it thinks a
    face was blended in), for detectors with a heatmap head; None for every crop otherwise."""
    import torch

    if not crops:
        return []
    with torch.no_grad():
        out = model.net(model.prepare(np.stack(crops)).contiguous().float())
    if "mask" not in out:
        return [None] * len(crops)
    maps = torch.sigmoid(out["mask"].float())[:, 0].cpu().numpy()
    return [overlay_heatmap(c, m) for c, m in zip(crops, maps, strict=True)]


def pick_suspicious(items: list[Suspicious], n: int = 6, min_gap: float = 0.5) -> list[Suspicious]:
    """Up to `n` of the highest-probability crops, at least `min_gap` seconds apart within a track."""
    out: list[Suspicious] = []
    for s in sorted(items, key=lambda s: (-s.prob, s.time)):
        if all(s.track != o.track or abs(s.time - o.time) >= min_gap for o in out):
            out.append(s)
        if len(out) == n:
            break
    return out


def _no_face_spans(f: FileScan) -> list[tuple[float, float]]:
    """(first time, last time) of each run of consecutive frames without a face."""
    spans: list[tuple[float, float]] = []
    run: list[float] = []
    for fr in f.frames:
        if not fr.faces:
            run.append(fr.time)
        elif run:
            spans.append((run[0], run[-1]))
            run = []
    if run:
        spans.append((run[0], run[-1]))
    return spans


def _track_points(f: FileScan, t0: float, span: float, bins: int) -> dict[int, list[tuple[float, float]]]:
    """(time, probability) per track; with more faces than `bins`, the highest probability per time bin
    (long videos stay a small page and peaks are kept)."""
    tracks: dict[int, list[tuple[float, float]]] = {}
    for fr in f.frames:
        for fc in fr.faces:
            if np.isfinite(fc.prob):
                tracks.setdefault(fc.track, []).append((fr.time, fc.prob))
    for tid, pts in tracks.items():
        if len(pts) > bins:
            best: dict[int, tuple[float, float]] = {}
            for t, p in pts:
                k = min(bins - 1, int((t - t0) / span * bins))
                if k not in best or p > best[k][1]:
                    best[k] = (t, p)
            tracks[tid] = [best[k] for k in sorted(best)]
    return tracks


def timeline_svg(
    f: FileScan,
    threshold: float,
    width: int = 760,
    height: int = 220,
    max_points: int = 1500,
    authentic_below: float | None = None,
) -> str:
    """Inline SVG: probability (0..1) over time per track, frames without faces shaded, threshold dashed
    (and the lower edge of the uncertain band dotted, when given and below the threshold).

    Tracks with more than `max_points` faces are drawn from the highest probability per time bin."""
    left, right, top, bottom = 44, 12, 10, 30
    pw, ph = width - left - right, height - top - bottom
    times = [fr.time for fr in f.frames] or [0.0]
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1e-6)

    def x(t: float) -> float:
        return left + (t - t0) / span * pw if t1 > t0 else left + pw / 2

    def y(p: float) -> float:
        return top + (1 - p) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="probability over time">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>',
    ]
    step = span / max(len(f.frames) - 1, 1)
    for a, b in _no_face_spans(f):  # merged runs of face-less frames
        parts.append(
            f'<rect x="{x(a) - pw * step / span / 2:.1f}" y="{top}" '
            f'width="{max(x(b) - x(a) + pw * step / span, 1):.1f}" height="{ph}" fill="#ddd"/>'
        )
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left - 4}" y1="{y(p):.1f}" x2="{left}" y2="{y(p):.1f}" stroke="#666"/>')
        parts.append(f'<text x="{left - 6}" y="{y(p) + 4:.1f}" font-size="11" text-anchor="end">{p:.2f}</text>')
    parts.append(
        f'<line x1="{left}" y1="{y(threshold):.1f}" x2="{left + pw}" y2="{y(threshold):.1f}" '
        'stroke="#444" stroke-dasharray="4 3"/>'
    )
    band = authentic_below is not None and authentic_below < threshold
    if band:
        parts.append(
            f'<line x1="{left}" y1="{y(authentic_below):.1f}" x2="{left + pw}" '  # type: ignore[arg-type]
            f'y2="{y(authentic_below):.1f}" stroke="#888" stroke-dasharray="1 3"/>'  # type: ignore[arg-type]
        )
    for i in range(6):
        t = t0 + span * i / 5
        parts.append(f'<text x="{x(t):.1f}" y="{height - 12}" font-size="11" text-anchor="middle">{t:.1f}s</text>')
    tracks = _track_points(f, t0, span, bins=max_points)
    for i, (tid, pts) in enumerate(sorted(tracks.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        if len(pts) == 1:
            tx, tp = pts[0]
            parts.append(f'<circle cx="{x(tx):.1f}" cy="{y(tp):.1f}" r="4" fill="{colour}"/>')
        else:
            # a gap longer than 1 s (the face left) breaks the line
            segs: list[list[tuple[float, float]]] = [[pts[0]]]
            for a, b in zip(pts, pts[1:], strict=False):
                if b[0] - a[0] > 1.0:
                    segs.append([])
                segs[-1].append(b)
            for seg in segs:
                line = " ".join(f"{x(t):.1f},{y(p):.1f}" for t, p in seg)
                parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        parts.append(f'<text x="{left + 6 + 70 * i}" y="{top + 14}" font-size="11" fill="{colour}">track {tid}</text>')
    parts.append(
        f'<text x="{width - right}" y="{height - 1}" font-size="10" text-anchor="end" fill="#666">'
        "grey: frames without a face · dashed: threshold" + (" · dotted: uncertain from" if band else "") + "</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:900px;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}table{border-collapse:collapse}
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold}
.manipulated{background:#c0392b}.authentic{background:#27ae60}.uncertain{background:#b9770e}
.not_evaluated{background:#5d6d7e}.no_face{background:#7f8c8d}.error{background:#555}
.crops{display:flex;flex-wrap:wrap;gap:12px}.crop{text-align:center;font-size:12px}
.crop img{width:128px;height:128px;image-rendering:auto;border:1px solid #ccc}
pre{background:#f5f5f5;padding:8px;overflow:auto;font-size:12px}.note{color:#666;font-size:13px}
"""

VERDICT_TEXT = {
    "manipulated": "likely manipulated",
    "uncertain": "uncertain: review it",
    "authentic": "no manipulation found",
    "not_evaluated": "not evaluated",
    "no_face": "no face found",
    "error": "could not be scanned",
}


def verdict_words(f: FileScan, options: ScanOptions | None = None) -> str:
    """The verdict in words, with the reason for "not_evaluated" (e.g. "not evaluated: face smaller than 40 px")."""
    text = VERDICT_TEXT.get(f.verdict, f.verdict)
    return f"{text}: {reason_text(f.reason, options)}" if f.reason else text


def band_text(result: ScanResult) -> str:
    """One sentence: the verdict band and where it came from."""
    band = result.band
    cal = band.get("calibration") or {}
    if band["source"] == "card":
        fpr = cal.get("target_fpr")
        where = "calibrated in the detector card" + (
            f" for {100 * fpr:.0f} % false positives on {cal.get('n_real', '?')} held-out real faces"
            + (f" of {cal['n_real_identities']} people" if cal.get("n_real_identities") else "")
            if isinstance(fpr, (int, float))
            else ""
        )
    elif band["source"] == "option":
        where = "set by the user for this scan, not the detector card's calibration"
    else:
        where = "the default band: this detector's card has no calibration, so it is NOT calibrated"
    return (
        f"Verdicts: manipulated from a score of {100 * band['threshold']:.1f}%, uncertain from "
        f"{100 * band['authentic_below']:.1f}%, authentic below ({where})."
    )


def _file_section(f: FileScan, result: ScanResult, n: int, link_base: Path | None) -> str:
    e = html.escape
    opt = result.options
    band = result.band
    score = "–" if f.score is None else f"{100 * f.score:.1f}%"
    out = [
        f'<h2 id="file{n}">{e(Path(f.source).name or f.source)}</h2>',
        f'<p><span class="verdict {e(f.verdict)}">{e(verdict_words(f, opt))}</span> '
        f"&nbsp; file score <b>{score}</b> ({e(opt.aggregation)} rule, threshold {band['threshold']:.2f}, "
        f"uncertain from {band['authentic_below']:.2f})</p>",
    ]
    if f.message:
        out.append(f'<p class="note">{e(f.message)}</p>')
    out.append(f'<p class="note">{e(f.source)}</p>')
    if f.status == "error":
        return "\n".join(out)
    info = f.info or {}
    rows = [
        ("frames scanned", f"{len(f.frames)} ({f.frames_without_faces} without a face, {f.frames_dropped} dropped)"),
        ("faces scored", str(f.faces_scored)),
        (
            "faces not scored",
            ", ".join(f"{n} ({reason_text(r, opt)})" for r, n in f.faces_not_evaluated.items()) or "none",
        ),
        ("media", f"{info.get('width')}×{info.get('height')}, {info.get('fps')} fps, {info.get('codec')}"),
        ("speed", f"{f.fps:.1f} frames/s ({f.seconds:.1f} s)"),
    ]
    if f.annotated:
        target = Path(f.annotated)
        if link_base is not None:
            try:
                target = target.resolve().relative_to(link_base.resolve())
            except ValueError:
                target = target.resolve()
        rows.append(("annotated", f'<a href="{e(target.as_posix())}">{e(target.name)}</a>'))
    out.append(
        "<table>"
        + "".join(f"<tr><th>{e(k)}</th><td>{v if k == 'annotated' else e(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )
    if f.tracks:
        out.append(
            "<h3>Face tracks</h3><table><tr><th>track</th><th>faces scored</th><th>not scored</th><th>from</th>"
            "<th>to</th><th>score</th><th>mean</th><th>max</th><th>verdict</th></tr>"
        )

        def pct(v: float | None) -> str:
            return "–" if v is None else f"{100 * v:.1f}%"

        for t in f.tracks:
            skipped = ", ".join(f"{n} {r.replace('face_too_', 'too ')}" for r, n in t.not_evaluated.items()) or "0"
            words = VERDICT_TEXT.get(t.verdict, t.verdict) + (f": {reason_text(t.reason, opt)}" if t.reason else "")
            out.append(
                f"<tr><td>{t.track}</td><td>{t.faces}</td><td>{e(skipped)}</td><td>{t.first_time:.2f}s</td>"
                f"<td>{t.last_time:.2f}s</td><td>{pct(t.score)}</td><td>{pct(t.mean)}</td><td>{pct(t.max)}</td>"
                f'<td><span class="verdict {e(t.verdict)}">{e(words)}</span></td></tr>'
            )
        out.append("</table>")
    if f.frames:
        out.append("<h3>Probability over time</h3>")
        out.append(timeline_svg(f, band["threshold"], authentic_below=band["authentic_below"]))
    span = (f.frames[-1].time - f.frames[0].time) if f.frames else 0.0
    picks = pick_suspicious(f.suspicious, n=6, min_gap=min(0.5, span / 6))  # short clips: spread over the clip
    if picks:
        overlays = gradcam_overlays(result.model, [s.crop for s in picks])
        heat = mask_overlays(result.model, [s.crop for s in picks])
        out.append("<h3>Most suspicious faces</h3>")
        if overlays and overlays[0] is None:
            out.append(
                '<p class="note">This detector has no convolution layers: Grad-CAM does not apply; '
                "the aligned crops are shown.</p>"
            )
        else:
            out.append(
                '<p class="note">Each pair: the aligned crop the detector saw, and its Grad-CAM map '
                "(red: regions that raised the FAKE score most)"
                + (
                    ", then the detector's own blend heatmap (red: where it sees a blended-in face)"
                    if heat[0] is not None
                    else ""
                )
                + ".</p>"
            )
        out.append('<div class="crops">')
        for s, ov, hm in zip(picks, overlays, heat, strict=True):
            imgs = f'<img alt="crop" src="{_png_b64(s.crop)}">'
            if ov is not None:
                imgs += f' <img alt="grad-cam" src="{_png_b64(ov)}">'
            if hm is not None:
                imgs += f' <img alt="blend heatmap" src="{_png_b64(hm)}">'
            out.append(
                f'<div class="crop">{imgs}<br>{100 * s.prob:.1f}% · frame {s.index} · {s.time:.2f}s · '
                f"track {s.track}</div>"
            )
        out.append("</div>")
    out.append("<h3>Provenance</h3>")
    if f.provenance is None:
        out.append(
            '<p class="note">No provenance check was run (turned off with --no-provenance, the source is live, '
            "or this installation has no provenance module).</p>"
        )
    else:
        prov = f.provenance
        if prov.get("labelled_synthetic"):
            out.append('<p><span class="verdict manipulated">labelled synthetic by the tool that made it</span></p>')
        if prov.get("summary") or prov.get("error"):
            out.append(f"<p>{e(str(prov.get('summary') or prov.get('error')))}</p>")
        out.append(
            f"<details><summary>details</summary><pre>{e(json.dumps(prov, indent=1, default=str))}</pre></details>"
        )
    return "\n".join(out)


def render_report(result: ScanResult, title: str = "deepfake-lab scan report", link_base: Path | None = None) -> str:
    """The HTML page of a scan (a string). `link_base`: folder that links to annotated videos are relative to."""
    e = html.escape
    d = result.to_dict()
    rows = []
    for i, f in enumerate(result.files):
        score = "–" if f.score is None else f"{100 * f.score:.1f}%"
        rows.append(
            f'<tr><td><a href="#file{i}">{e(Path(f.source).name or f.source)}</a></td><td>{score}</td>'
            f'<td><span class="verdict {e(f.verdict)}">{e(verdict_words(f, result.options))}'
            f"</span></td><td>{len(f.frames)}</td><td>{len(f.tracks)}</td></tr>"
        )
    agg = d["aggregation"]
    model = d["model"]
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="note">{e(d["tool"])} · {e(d["created"])} · detector <b>{e(model["name"])}</b> '
        f"({e(str(model['model']))}, crop {model['crop']['size']} px, margin {model['crop']['margin']}, "
        f"{e(model['precision'])}) · weights sha256 {e(model['weights_sha256'][:16])}…</p>",
        "<h2>Summary</h2><table><tr><th>file</th><th>score</th><th>verdict</th><th>frames</th><th>tracks</th></tr>",
        *rows,
        "</table>",
        f'<p class="note">Scores are the detector\'s probability that a face is manipulated. Frame: {e(agg["frame"])}. '
        f"Track: {e(agg['track'])}. File: {e(agg['file'])}. A score is evidence from one model trained on "
        "limited data, not proof: check the provenance findings and the context.</p>",
        f'<p class="note">{e(band_text(result))} Faces smaller than {result.options.min_face_size:g} px or '
        f"blurrier than sharpness {result.options.min_sharpness:g} are not scored; a video with fewer than "
        f"{result.options.min_frames} frames holding a scored face is not evaluated.</p>",
    ]
    for i, f in enumerate(result.files):
        body.append(_file_section(f, result, i, link_base))
    body.append("<h2>Model card</h2>")
    body.append(f"<pre>{e(json.dumps(model['card'], indent=1, default=str))}</pre>")
    body.append("<h2>Options</h2>")
    body.append(f"<pre>{e(json.dumps(d['options'], indent=1))}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{OUTPUT_MARK}">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(result: ScanResult, path: str | Path, title: str = "deepfake-lab scan report") -> Path:
    """Write the self-contained HTML report; links to annotated outputs are relative to its folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result, title, link_base=out.parent), encoding="utf-8")
    return out
