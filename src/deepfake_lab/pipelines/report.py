"""Self-contained HTML report of a scan: verdicts, a probability timeline per face track (inline SVG), the most
suspicious face crops with Grad-CAM overlays (base64 PNG), provenance findings and the model card.

The page has no external resources (no scripts, fonts or images from elsewhere), so it can be mailed or
archived as one file. It renders `templates/scan_report.html.j2` (autoescaped); the inline SVG and the model
card fragment are built here and passed as trusted `Markup`.

Example:
    >>> from deepfake_lab.pipelines.report import write_report
    >>> write_report(result, "scan.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from markupsafe import Markup

from deepfake_lab.html import render
from deepfake_lab.pipelines.scan import (
    OUTPUT_MARK,
    Detector,
    FileScan,
    ScanOptions,
    ScanResult,
    Suspicious,
    band_source_text,
    crop_text,
    reason_text,
)

__all__ = [
    "VERDICT_COLOURS",
    "VERDICT_CSS",
    "REPORT_CSS",
    "VERDICT_TEXT",
    "band_source_text",  # re-exported from pipelines.scan.result (as crop_text: the detect CLI needs no jinja2)
    "band_text",
    "card_summary_html",
    "crop_text",  # re-exported from pipelines.scan.detector (the detect CLI prints it without loading this)
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
    model: Detector, crops: list[np.ndarray], probs: list[float] | None = None
) -> list[np.ndarray | None]:
    """Grad-CAM overlays of face crops ((S, S, 3) uint8 RGB each); None for every crop when the detector has
    no spatial convolution layer (frequency detectors).

    With `probs` (the faces' probabilities) the maps share one fixed colour scale: each map (peak 1) is scaled
    by its face's probability, so a face scored 1 % stays blue and only a face scored near 100 % reaches red.
    Without `probs` every map is stretched to its own peak (relative; only for comparing regions in one face).
    """
    if not crops:
        return []
    from deepfake_lab.metrics.gradcam import grad_cam, overlay_heatmap  # torch: only for a report's few crops

    tm = model.torch_model()  # the ONNX Runtime backend loads the same weights in torch here
    x = tm.prepare(np.stack(crops)).contiguous()
    cams = grad_cam(tm.net, x)
    if cams is None:
        return [None] * len(crops)
    scale = [1.0] * len(crops) if probs is None else [float(np.clip(p, 0.0, 1.0)) for p in probs]
    return [overlay_heatmap(c, cam.cpu().numpy() * k) for c, cam, k in zip(crops, cams, scale, strict=True)]


def _colour_bar(width: int = 160, height: int = 10) -> np.ndarray:
    """(height, width, 3) RGB strip of the JET colour map from 0 (left) to 1 (right), as `overlay_heatmap` uses."""
    ramp = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    return cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def mask_overlays(model: Detector, crops: list[np.ndarray]) -> list[np.ndarray | None]:
    """Overlays of the detector's own manipulation heatmap (sigmoid of its ``mask`` output: where it thinks a
    face was blended in), for detectors with a heatmap head; None for every crop otherwise."""
    if not crops:
        return []
    import torch

    from deepfake_lab.metrics.gradcam import overlay_heatmap

    tm = model.torch_model()
    with torch.no_grad():
        out = tm.net(tm.prepare(np.stack(crops)).contiguous().float())
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

REPORT_CSS = (
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


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _pre_json(obj: Any) -> Markup:
    """Indented JSON for a <pre>, escaped with `html.escape` (quotes as &quot;, as the report always wrote)."""
    return Markup(html.escape(json.dumps(obj, indent=1, default=str)))


def _trained_on(card: dict) -> list[str]:
    """What a card says its detector was trained on, as phrases."""
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
    return trained


def _threshold_text(card: dict, default_threshold: float) -> str:
    """The card's threshold with its measured false-positive rate, or the uncalibrated default."""
    cal = card.get("calibration")
    if not (isinstance(cal, dict) and "threshold" in cal):
        return (
            f"{default_threshold:.2f} (the default: this model card has no calibration, so the false-positive "
            "rate at this threshold was not measured)"
        )
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
    return text


def card_summary_html(card: dict, default_threshold: float = 0.5) -> Markup:
    """A model card as a readable summary: known limits first, then what it was trained on, its threshold and
    false-positive rate (from the card's "calibration" entry when it has one), test figures and usage; the raw
    JSON folded in a <details> element (`templates/_model_card.html.j2`)."""
    rows: list[tuple[str, str]] = []
    name = card.get("name") or card.get("model") or "?"
    rows.append(("model", f"{name} ({card.get('model', '?')})"))
    if card.get("description"):
        rows.append(("what it is", str(card["description"])))
    trained = _trained_on(card)
    if trained:
        rows.append(("trained on", "; ".join(trained)))
    rows.append(("threshold", _threshold_text(card, default_threshold)))
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
    limits = [str(x) for x in card.get("known_limits") or []]
    return Markup(render("_model_card.html.j2", limits=limits, rows=rows, card_json=_pre_json(card)))


def verdict_words(f: FileScan, options: ScanOptions | None = None) -> str:
    """The verdict in words, with the reason for "not_evaluated" (e.g. "not evaluated: face smaller than 32 px")."""
    text = VERDICT_TEXT.get(f.verdict, f.verdict)
    return f"{text}: {reason_text(f.reason, options)}" if f.reason else text


def band_text(result: ScanResult) -> str:
    """One sentence: the verdict band and where it came from."""
    band = result.band
    return (
        f"Verdicts: manipulated from a score of {100 * band['threshold']:.1f}%, uncertain from "
        f"{100 * band['authentic_below']:.1f}%, authentic below ({band_source_text(band)})."
    )


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _annotated_link(annotated: str, link_base: Path | None) -> dict[str, str]:
    target = Path(annotated)
    if link_base is not None:
        try:
            target = target.resolve().relative_to(link_base.resolve())
        except ValueError:
            target = target.resolve()
    return {"href": target.as_posix(), "name": target.name}


def _crops(f: FileScan, model: Detector) -> dict[str, Any]:
    """The most suspicious crops of a file with their Grad-CAM maps and blend heatmaps (base64 PNG)."""
    span = (f.frames[-1].time - f.frames[0].time) if f.frames else 0.0
    picks = pick_suspicious(f.suspicious, n=6, min_gap=min(0.5, span / 6))  # short clips: spread over the clip
    if not picks:
        return {"crops": [], "gradcam": False, "heatmap": False}
    overlays = gradcam_overlays(model, [s.crop for s in picks], [s.prob for s in picks])
    heat = mask_overlays(model, [s.crop for s in picks])
    crops = [
        {
            "index": s.index,
            "crop": _png_b64(s.crop),
            "gradcam": None if ov is None else _png_b64(ov),
            "heatmap": None if hm is None else _png_b64(hm),
            "caption": f"{100 * s.prob:.1f}% · frame {s.index} · {s.time:.2f}s · track {s.track}",
        }
        for s, ov, hm in zip(picks, overlays, heat, strict=True)
    ]
    return {"crops": crops, "gradcam": overlays[0] is not None, "heatmap": heat[0] is not None}


def _file_context(f: FileScan, result: ScanResult, link_base: Path | None) -> dict[str, Any]:
    """What `scan_report.html.j2` shows of one file."""
    opt, band = result.options, result.band
    out: dict[str, Any] = {
        "name": Path(f.source).name or f.source,
        "source": f.source,
        "score": _pct(f.score),
        "verdict": f.verdict,
        "words": verdict_words(f, opt),
        "frames": len(f.frames),
        "tracks": [],
        "message": f.message,
        "error": f.status == "error",
    }
    if f.status == "error":
        return out
    info = f.info or {}
    out["rows"] = [
        ("frames scanned", f"{len(f.frames)} ({f.frames_without_faces} without a face, {f.frames_dropped} dropped)"),
        ("faces scored", str(f.faces_scored)),
        ("faces not scored",
         ", ".join(f"{n} ({reason_text(r, opt)})" for r, n in f.faces_not_evaluated.items()) or "none"),
        ("media", f"{info.get('width')}×{info.get('height')}, {info.get('fps')} fps, {info.get('codec')}"),
        ("speed", f"{f.fps:.1f} frames/s ({f.seconds:.1f} s)"),
    ]  # fmt: skip
    out["annotated"] = _annotated_link(f.annotated, link_base) if f.annotated else None
    out["tracks"] = [
        {
            "track": t.track,
            "faces": t.faces,
            "skipped": ", ".join(f"{n} {r.replace('face_too_', 'too ')}" for r, n in t.not_evaluated.items()) or "0",
            "first": f"{t.first_time:.2f}s",
            "last": f"{t.last_time:.2f}s",
            "score": _pct(t.score),
            "mean": _pct(t.mean),
            "max": _pct(t.max),
            "verdict": t.verdict,
            "words": VERDICT_TEXT.get(t.verdict, t.verdict) + (f": {reason_text(t.reason, opt)}" if t.reason else ""),
        }
        for t in f.tracks
    ]
    svg = timeline_svg(f, band["threshold"], authentic_below=band["authentic_below"]) if f.frames else None
    out["timeline"] = None if svg is None else Markup(svg)  # built from numbers here: trusted
    out.update(_crops(f, result.model))
    prov = f.provenance
    out["provenance"] = None if prov is None else {
        "synthetic": bool(prov.get("labelled_synthetic")),
        "text": str(prov.get("summary") or prov.get("error")) if prov.get("summary") or prov.get("error") else "",
        "json": _pre_json(prov),
    }  # fmt: skip
    return out


def render_report(result: ScanResult, title: str = "deepfake-lab scan report", link_base: Path | None = None) -> str:
    """The HTML page of a scan (a string). `link_base`: folder that links to annotated videos are relative to."""
    d = result.to_dict()
    model = d["model"]
    band = result.band
    return render(
        "scan_report.html.j2",
        title=title,
        generator=OUTPUT_MARK,
        css=Markup(REPORT_CSS),
        doc=d,
        model=model,
        crop=crop_text(model["crop"]),
        options=result.options,
        band=band_text(result),
        threshold=band["threshold"],
        authentic_below=band["authentic_below"],
        files=[_file_context(f, result, link_base) for f in result.files],
        colour_bar=_png_b64(_colour_bar()),
        card=card_summary_html(model["card"] if isinstance(model["card"], dict) else {}),
        options_json=json.dumps(d["options"], indent=1),
    )


def write_report(result: ScanResult, path: str | Path, title: str = "deepfake-lab scan report") -> Path:
    """Write the self-contained HTML report; links to annotated outputs are relative to its folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result, title, link_base=out.parent), encoding="utf-8")
    return out
