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
    "VERDICT_COLOURS",
    "VERDICT_CSS",
    "VERDICT_TEXT",
    "band_text",
    "card_summary_html",
    "crop_text",
    "gradcam_overlays",
    "mask_overlays",
    "nice_ticks",
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


def gradcam_overlays(
    model: DetectorModel, crops: list[np.ndarray], probs: list[float] | None = None
) -> list[np.ndarray | None]:
    """Grad-CAM overlays of face crops ((S, S, 3) uint8 RGB each); None for every crop when the detector has
    no spatial convolution layer (frequency detectors).

    With `probs` (the faces' probabilities) the maps share one fixed colour scale: each map (peak 1) is scaled
    by its face's probability, so a face scored 1 % stays blue and only a face scored near 100 % reaches red.
    Without `probs` every map is stretched to its own peak (relative; only for comparing regions in one face).
    """
    if not crops:
        return []
    x = model.prepare(np.stack(crops)).contiguous()
    cams = grad_cam(model.net, x)
    if cams is None:
        return [None] * len(crops)
    scale = [1.0] * len(crops) if probs is None else [float(np.clip(p, 0.0, 1.0)) for p in probs]
    return [overlay_heatmap(c, cam.cpu().numpy() * k) for c, cam, k in zip(crops, cams, scale, strict=True)]


def _colour_bar(width: int = 160, height: int = 10) -> np.ndarray:
    """(height, width, 3) RGB strip of the JET colour map from 0 (left) to 1 (right), as `overlay_heatmap` uses."""
    ramp = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    return cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


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


def nice_ticks(t0: float, t1: float, max_ticks: int = 6) -> tuple[list[float], int]:
    """Round tick positions within [t0, t1] (steps of 1, 2, 2.5 or 5 × 10^k, at most `max_ticks`) and the
    number of decimals that tells every label apart.

    Example:
        >>> nice_ticks(0.0, 0.4)
        ([0.0, 0.1, 0.2, 0.3, 0.4], 1)
    """
    span = t1 - t0
    if span <= 0:
        return [t0], 1
    raw = span / max(max_ticks - 1, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = np.ceil(t0 / step - 1e-9) * step
    ticks = [round(float(first + i * step), 10) for i in range(int((t1 - first) / step + 1e-9) + 1)]
    decimals = next(d for d in range(10) if abs(round(step * 10**d) - step * 10**d) < 1e-6)
    return ticks, decimals


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
    ticks, decimals = nice_ticks(t0, t1)
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" y1="{top + ph}" x2="{x(t):.1f}" y2="{top + ph + 4}" stroke="#666"/>')
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - 12}" font-size="11" text-anchor="middle">{t:.{decimals}f}s</text>'
        )
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


# Badge background per verdict (white bold text on each is >= 4.5:1, WCAG AA; the web page uses the same colours
# and tests/test_web_browser.py measures them from the computed styles).
VERDICT_COLOURS = {
    "manipulated": "#b91c1c",
    "uncertain": "#92400e",
    "authentic": "#166534",
    "no_face": "#4b5563",
    "not_evaluated": "#334155",
    "error": "#1f2937",
}
VERDICT_CSS = ".verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold}" + "".join(
    f".verdict.{name}{{background:{colour}}}" for name, colour in VERDICT_COLOURS.items()
)

_CSS = (
    VERDICT_CSS
    + """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:900px;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}table{border-collapse:collapse}
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.crops{display:flex;flex-wrap:wrap;gap:12px}.crop{text-align:center;font-size:12px}
.crop img{width:128px;height:128px;image-rendering:auto;border:1px solid #ccc}
pre{background:#f5f5f5;padding:8px;overflow:auto;font-size:12px}.note{color:#666;font-size:13px}
svg{max-width:100%;height:auto}body{padding:0 12px}
"""
)

VERDICT_TEXT = {
    "manipulated": "likely manipulated",
    "uncertain": "uncertain: review it",
    "authentic": "no manipulation found",
    "not_evaluated": "not evaluated",
    "no_face": "no face found",
    "error": "could not be scanned",
}


def crop_text(crop: dict) -> str:
    """How faces are cropped for the detector, from a model summary's `crop` ({size, margin, input_size}).

    Example:
        >>> crop_text({"size": 128, "margin": 0.1, "input_size": 64})
        'faces aligned at 128 px (margin 0.1), resized to the 64 px model input'
    """
    size, margin = crop.get("size"), crop.get("margin")
    inp = crop.get("input_size", size)
    text = f"faces aligned at {size} px (margin {margin})"
    return text + (f", resized to the {inp} px model input" if inp != size else "")


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def card_summary_html(card: dict, default_threshold: float = 0.5) -> str:
    """A model card as a readable summary: known limits first, then what it was trained on, its threshold and
    false-positive rate (from the card's "calibration" entry when it has one), test figures and usage; the raw
    JSON folded in a <details> element."""
    e = html.escape
    out: list[str] = []
    limits = card.get("known_limits") or []
    out.append("<h3>Known limits</h3>")
    if limits:
        out.append("<ul>" + "".join(f"<li>{e(str(x))}</li>" for x in limits) + "</ul>")
    else:
        out.append('<p class="note">This model card lists no known limits: treat its scores with extra care.</p>')
    rows: list[tuple[str, str]] = []
    name = card.get("name") or card.get("model") or "?"
    rows.append(("model", f"{name} ({card.get('model', '?')})"))
    if card.get("description"):
        rows.append(("what it is", str(card["description"])))
    data = card.get("data") if isinstance(card.get("data"), dict) else {}
    trained: list[str] = []
    if data.get("benchmark"):
        trained.append(str(data["benchmark"]))
    sources = [x for x in data.get("sources") or [] if isinstance(x, dict)]
    if sources:
        people = sorted({str(x.get("identity")) for x in sources if x.get("identity")})
        trained.append(f"{len(sources)} videos of {len(people)} identities ({', '.join(people)})")
    train_imgs = (data.get("images") or {}).get("train") if isinstance(data.get("images"), dict) else None
    if isinstance(train_imgs, dict):
        real = train_imgs.get("real", 0)
        fake = sum(v for k, v in train_imgs.items() if k != "real" and isinstance(v, int | float))
        kinds = ", ".join(k for k in train_imgs if k != "real")
        trained.append(f"{real} real and {fake} manipulated training faces ({kinds})")
    training = card.get("training") if isinstance(card.get("training"), dict) else {}
    if training.get("steps"):
        trained.append(f"{training['steps']} steps")
    if trained:
        rows.append(("trained on", "; ".join(trained)))
    cal = card.get("calibration")
    if isinstance(cal, dict) and "threshold" in cal:
        text = f"{_fmt(cal['threshold'])}: false-positive rate {_fmt(cal.get('fpr'))}"
        if cal.get("target_fpr") is not None:
            text += f" (target {_fmt(cal['target_fpr'])})"
        who = f"{cal.get('n_real', '?')} held-out real faces"
        if cal.get("n_real_identities"):
            who += f" of {cal['n_real_identities']} people"
        text += f", measured on {who}"
        if cal.get("split"):
            text += f" ({cal['split']})"
        if cal.get("tpr") is not None:
            text += f"; true-positive rate {_fmt(cal['tpr'])} on {cal.get('n_fake', '?')} fakes"
        if cal.get("authentic_below") is not None:
            text += f"; scores from {_fmt(cal['authentic_below'])} up to the threshold read as uncertain"
        rows.append(("threshold", text))
    else:
        rows.append(
            (
                "threshold",
                f"{default_threshold:.2f} (the default: this model card has no calibration, so the false-positive "
                "rate at this threshold was not measured)",
            )
        )
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    figures = []
    for key, val in metrics.items():
        if isinstance(val, dict) and "auc" in val:
            names = {"auc": "AUC", "eer": "EER", "accuracy": "accuracy"}
            parts = [f"{label} {_fmt(val[k])}" for k, label in names.items() if k in val]
            figures.append(f"{key}: {', '.join(parts)}")
    if figures:
        where = f" — {metrics['test_split']}" if metrics.get("test_split") else ""
        rows.append(("test figures", "; ".join(figures) + where))
    if isinstance(card.get("input"), dict) and card["input"].get("shape"):
        rows.append(("input", "×".join(str(v) for v in card["input"]["shape"])))
    if card.get("usage"):
        rows.append(("usage", str(card["usage"])))
    if card.get("responsible_use"):
        rows.append(("responsible use", str(card["responsible_use"])))
    out.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>")
    out.append(
        "<details><summary>Full model card (JSON)</summary>"
        f"<pre>{e(json.dumps(card, indent=1, default=str))}</pre></details>"
    )
    return "\n".join(out)


def verdict_words(f: FileScan, options: ScanOptions | None = None) -> str:
    """The verdict in words, with the reason for "not_evaluated" (e.g. "not evaluated: face smaller than 32 px")."""
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
        overlays = gradcam_overlays(result.model, [s.crop for s in picks], [s.prob for s in picks])
        heat = mask_overlays(result.model, [s.crop for s in picks])
        out.append("<h3>Most suspicious faces</h3>")
        if overlays and overlays[0] is None:
            out.append(
                '<p class="note">This detector has no convolution layers: Grad-CAM does not apply; '
                "the aligned crops are shown.</p>"
            )
        else:
            out.append(
                '<p class="note">Each pair: the aligned crop the detector saw, and its Grad-CAM map on one fixed '
                "scale for all faces: the map (regions that raised the FAKE score most) is multiplied by the "
                "face's probability, so a face scored near 0 % stays blue and only a face scored near 100 % "
                f'can reach red. Scale: 0 % <img alt="colour scale from blue (0 %) to red (100 %)" '
                f'src="{_png_b64(_colour_bar())}" style="width:160px;height:10px;vertical-align:middle"> 100 %'
                + (
                    "; then the detector's own blend heatmap (red: where it sees a blended-in face)"
                    if heat[0] is not None
                    else ""
                )
                + ".</p>"
            )
        out.append('<div class="crops">')
        for s, ov, hm in zip(picks, overlays, heat, strict=True):
            imgs = f'<img alt="face crop, frame {s.index}" src="{_png_b64(s.crop)}">'
            if ov is not None:
                imgs += f' <img alt="Grad-CAM map of frame {s.index}" src="{_png_b64(ov)}">'
            if hm is not None:
                imgs += f' <img alt="blend heatmap of frame {s.index}" src="{_png_b64(hm)}">'
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
        f"({e(str(model['model']))}, {e(crop_text(model['crop']))}, "
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
    body.append(card_summary_html(model["card"] if isinstance(model["card"], dict) else {}))
    body.append("<h2>Options</h2>")
    body.append(f"<pre>{e(json.dumps(d['options'], indent=1))}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{OUTPUT_MARK}">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(result: ScanResult, path: str | Path, title: str = "deepfake-lab scan report") -> Path:
    """Write the self-contained HTML report; links to annotated outputs are relative to its folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result, title, link_base=out.parent), encoding="utf-8")
    return out
