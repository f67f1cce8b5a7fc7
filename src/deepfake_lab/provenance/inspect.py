"""Read both labels of a file: the C2PA manifest and the invisible watermark (what `detect` reports).

Example:
    >>> from deepfake_lab.provenance import inspect_provenance
    >>> rep = inspect_provenance("swapped.mp4")  # doctest: +SKIP
    >>> rep.c2pa.valid, rep.watermark.fraction, rep.watermark.payload  # doctest: +SKIP
    (True, 1.0, {'tool': 'deepfake-lab', 'kind': 'swap', 'model_id': '1c2f3', 'run_id': '0a9be'})
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.provenance.manifest import C2paInfo, read_manifest
from deepfake_lab.provenance.payload import WatermarkPayload
from deepfake_lab.provenance.watermark import decode_pooled, decode_watermark

__all__ = ["ProvenanceReport", "WatermarkInfo", "inspect_provenance", "REPORT_VERSION"]

REPORT_VERSION = 1


@dataclass
class WatermarkInfo:
    """Watermark findings.

    Attributes:
        frames_checked: frames (1 for an image) examined; videos are sampled evenly.
        frames_found: how many of them carried a valid deepfake-lab payload.
        fraction: frames_found / frames_checked (0 when nothing was checked).
        payload: the most common decoded payload ({"tool", "kind", "model_id", "run_id"}) or None.
        agreement: mean vote agreement of the frames where it was found (0.5 chance … 1 perfect).
        matches_manifest: the payload equals the one recorded in the C2PA manifest (None when either is
            missing).
        pooled_payload: videos: the payload decoded from the votes of all checked frames pooled together
            (finds the mark in small or heavily compressed videos where single frames fall short); None when
            not found or for images.
        note: why nothing could be checked (e.g. image too small).
        sampling: how video frames were picked: "even" (evenly spaced over every decoded frame),
            "keyframes" (key frames at evenly spaced times, one seek each, then frames following them when
            the file has fewer key frames than `sample_limit`) or "scan" (evenly spaced over the frames a
            `detect` scan decoded anyway, handed over by the scan: no decoding of its own; what `detect` uses
            for videos).
        sample_limit: the most frames that would be checked (`max_frames`; 1 for an image).
        stopped_early: the check stopped before `sample_limit` frames because `confirm` frames in a row
            agreed on one payload.
        frame_indices: index of every checked frame in the file (estimates after seeks).
    """

    frames_checked: int = 0
    frames_found: int = 0
    fraction: float = 0.0
    payload: dict[str, Any] | None = None
    agreement: float | None = None
    matches_manifest: bool | None = None
    pooled_payload: dict[str, Any] | None = None
    note: str | None = None
    sampling: str = "even"
    sample_limit: int = 0
    stopped_early: bool = False
    frame_indices: list[int] = field(default_factory=list)


@dataclass
class ProvenanceReport:
    """Provenance labels of one file; `to_dict()` is JSON-able (format `REPORT_VERSION`).

    Attributes:
        path: the file; kind: "image" or "video".
        c2pa: `C2paInfo` (present / valid / trusted / errors / what it claims).
        watermark: `WatermarkInfo` (fraction of frames, payload).
        labelled_synthetic: either label says the file is generated (a valid synthetic C2PA claim or a
            watermark found in at least half of the checked frames).
        summary: one line for people.
    """

    path: str
    kind: str
    c2pa: C2paInfo
    watermark: WatermarkInfo
    labelled_synthetic: bool = False
    summary: str = ""
    format_version: int = REPORT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["c2pa"] = self.c2pa.to_dict()
        return d


def _local_serial() -> str | None:
    """Serial of this machine's local signing certificate, if one exists (never creates it)."""
    from deepfake_lab.provenance.keys import CERT_NAME, provenance_home

    cert = provenance_home() / CERT_NAME
    if not cert.is_file():
        return None
    try:
        from cryptography import x509

        return str(x509.load_pem_x509_certificate(cert.read_bytes()).serial_number)
    except (OSError, ValueError):
        return None


def _frames(path: Path, max_frames: int, sampling: str = "even") -> tuple[str, Iterator[tuple[int, np.ndarray]]]:
    """("image" | "video", lazily decoded (frame index, RGB image) pairs of the sample)."""
    from deepfake_lab.video.reader import VideoReader, open_media

    # key frames: one decoder thread, so that a seek costs one decoded frame (frame threads decode ahead)
    reader = open_media(path, threads=1 if sampling == "keyframes" else 0)
    info = reader.info
    if info.kind == "image":
        with reader:
            return "image", iter([(0, next(iter(reader)).image)])
    if sampling == "keyframes" and isinstance(reader, VideoReader):
        return "video", _keyframe_sample(reader, max_frames)
    return "video", _even_sample(reader, max_frames)


def _even_sample(reader: Any, max_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Every `n // max_frames`-th frame from the start (decodes the file up to the last one taken)."""
    with reader:
        n = reader.info.frame_count or 0
        step = max(1, n // max_frames) if n else 1
        for taken, frame in enumerate(reader.iter_frames(step), 1):
            yield frame.index, frame.image
            if taken >= max_frames:
                return


def _keyframe_sample(reader: Any, max_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Key frames at ceil(`max_frames` / 2) evenly spaced times (one seek + a few decoded packets each;
    duplicates skipped), then the frames right after them (sequential P/B frames, cheap) until `max_frames`
    are taken. Cost: a few dozen decoded frames whatever the file's length."""
    with reader:
        info = reader.info
        duration = info.duration or ((info.frame_count or 0) / info.fps if info.fps else 0.0)
        if not duration or duration <= 0:
            yield from _even_sample(reader, max_frames)
            return
        seen: set[int | None] = set()
        keys: list[float] = []
        targets = -(-max_frames // 2)
        for k in range(targets):
            f = reader.keyframe_at(duration * k / targets)
            if f is None or f.pts in seen:
                continue
            seen.add(f.pts)
            keys.append(f.time)
            yield f.index, f.image
        need = max_frames - len(keys)
        per = math.ceil(need / len(keys)) if keys else 0
        for t in keys:
            if need <= 0:
                return
            if reader.keyframe_at(t) is None:
                continue
            for _, f in zip(range(min(per, need)), reader.iter_frames(), strict=False):
                if f.pts in seen:
                    break
                seen.add(f.pts)
                need -= 1
                yield f.index, f.image


def _is_image(path: Path) -> bool:
    from deepfake_lab.video.image import is_image_path

    return is_image_path(path)


def inspect_provenance(
    path: str | Path,
    *,
    max_frames: int = 16,
    confirm: int | None = None,
    sampling: Literal["even", "keyframes", "scan"] | None = None,
    video_frames: Iterable[tuple[int, np.ndarray]] | None = None,
) -> ProvenanceReport:
    """Read the C2PA manifest and look for the invisible watermark of an image or video.

    Stable API (the `detect` scanner calls it): `inspect_provenance(path, *, max_frames=16, ...) ->
    ProvenanceReport`; the report's `to_dict()` keys are versioned by `format_version` (fields added since
    are optional).

    Args:
        path: image or video file.
        max_frames: videos: at most this many frames, spread over the file, are checked for the watermark
            (the first ones search every grid phase and a 2× upscale, so crops and half-size copies are found;
            later frames reuse the phase found).
        confirm: stop as soon as this many checked frames carried the same payload (None: check all
            `max_frames`); `detect` uses 3, so a labelled file costs a few frames.
        sampling: "even" (every n-th frame; decodes the file; the default) or "keyframes" (key frames at
            evenly spaced times plus the frames after them; about `max_frames` decoded frames whatever the
            length); "scan" (the default with `video_frames`, and only with them): frames a scan handed over.
        video_frames: a video's (frame index, (H, W, 3) uint8 RGB) pairs to check instead of decoding the file's
            own sample (a scan hands over frames it decoded anyway); at most `max_frames` are taken, and the
            iterable is no longer read once `confirm` frames agreed.

    Returns:
        `ProvenanceReport`.

    Raises:
        BadInputError: missing or unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{p} is not a file")
    if max_frames < 1:
        raise BadInputError(f"max_frames must be >= 1, got {max_frames}")
    if sampling is None:
        sampling = "even" if video_frames is None else "scan"
    if (video_frames is not None) != (sampling == "scan"):
        raise BadInputError(
            f"sampling {sampling!r} decodes the file itself; with video_frames use 'scan'"
            if video_frames is not None
            else "sampling 'scan' checks frames handed over in video_frames; none were given"
        )
    if confirm is not None and confirm < 1:
        raise BadInputError(f"confirm must be >= 1, got {confirm}")
    c2 = read_manifest(p, _local_serial)  # the manifest first: cheap, and it names the payload to expect
    wm = WatermarkInfo(sampling=sampling, sample_limit=max_frames)
    frames: list[np.ndarray] = []
    frame_votes: list[dict[tuple[int, int], Any]] = []
    found: list[WatermarkPayload] = []
    agreements: list[float] = []
    hint: tuple[int, int] | None = None
    searched = 0
    try:
        if video_frames is None:
            kind, sample = _frames(p, max_frames, sampling)
        else:
            kind, sample = "video", itertools.islice(video_frames, max_frames)
        for index, img in sample:
            frames.append(img)
            wm.frame_indices.append(int(index))
            # full search (64 phases + 2× upscale) on up to 2 frames (1 for key frames or scan frames) until a phase
            # is known; then a quick check
            search = hint is None and searched < (2 if sampling == "even" else 1)
            res = decode_watermark(img, search=search, hint=hint)
            searched += int(search)
            frame_votes.append(res.extra.get("votes", {}))
            if res.found and res.payload is not None:
                found.append(res.payload)
                agreements.append(res.agreement)
                hint = res.offset if res.scale == 1 else hint
            if res.extra.get("reason"):
                wm.note = str(res.extra["reason"])
            top = Counter(found).most_common(1)
            if confirm is not None and top and top[0][1] >= confirm and len(frames) < max_frames:
                wm.stopped_early = True
                break
        close = getattr(sample, "close", None)
        if close is not None:
            close()  # releases the file when the loop stopped early
    except (BadInputError, OSError) as exc:  # damaged pixels: still report what the manifest says
        if not c2.present:
            raise BadInputError(f"cannot read {p.name}: {exc}") from None
        kind = "image" if _is_image(p) else "video"
        frames, frame_votes, found, agreements, wm.frame_indices = [], [], [], [], []
        wm.note = f"cannot decode the pixels: {exc}"
    if kind == "image":
        wm.sample_limit = 1
    wm.frames_checked = len(frames)
    if kind == "video" and len(frames) > 1:
        phase = hint or (0, 0)
        pooled = decode_pooled(frames, phase=phase, votes=[v.get(phase) for v in frame_votes])
        wm.pooled_payload = pooled.payload.to_dict() if pooled.payload is not None else None
    wm.frames_found = len(found)
    wm.fraction = len(found) / len(frames) if frames else 0.0
    if found:
        top = Counter(found).most_common(1)[0][0]
        wm.payload = top.to_dict()
        wm.agreement = round(float(np.mean(agreements)), 4)
    if wm.payload or wm.pooled_payload:
        claimed = (c2.generation or {}).get("watermark")
        wm.matches_manifest = (claimed == (wm.payload or wm.pooled_payload)) if claimed else None
    rep = ProvenanceReport(path=str(p), kind=kind, c2pa=c2, watermark=wm)
    rep.labelled_synthetic = bool(
        (c2.present and c2.valid and c2.synthetic) or (found and wm.fraction >= 0.5) or wm.pooled_payload
    )
    rep.summary = _summary(rep)
    return rep


def _summary(rep: ProvenanceReport) -> str:
    c, w = rep.c2pa, rep.watermark
    if c.present:
        claim = "synthetic (trainedAlgorithmicMedia)" if c.synthetic else f"source type {c.digital_source_type}"
        model = f", model {c.model}" if c.model else ""
        c2 = f"C2PA {c.status}; claims {claim}{model}"
    else:
        c2 = "no C2PA manifest" + (f" ({c.note})" if c.note else "")
    if w.frames_found:
        p = w.payload or {}
        wmt = (
            f"watermark in {w.frames_found}/{w.frames_checked} frame(s): deepfake-lab {p.get('kind')}, "
            f"model id {p.get('model_id')}, run id {p.get('run_id')}"
        )
    elif w.pooled_payload:
        p = w.pooled_payload
        wmt = (
            f"watermark in 0/{w.frames_checked} single frame(s) but found with their votes pooled: deepfake-lab "
            f"{p.get('kind')}, model id {p.get('model_id')}, run id {p.get('run_id')}"
        )
    else:
        wmt = f"no watermark in {w.frames_checked} frame(s)" + (f" ({w.note})" if w.note else "")
    return f"{c2}; {wmt}"
