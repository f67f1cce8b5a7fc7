"""Analysis jobs behind the web service: a bounded queue, a worker pool, per-job folders, expiry.

Each job owns one folder `<root>/<id>/` (the id is a random hex token; client file names are never used
as paths). A worker scans the upload with `deepfake_lab.pipelines.scan.scan_file` and records per-frame
scores as events while it goes, so that the page can follow them live.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError, DeepfakeLabError, OptionError, Ref
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan import (
    Detector,
    FileScan,
    FrameScore,
    ScanOptions,
    ScanResult,
    scan_file,
)
from deepfake_lab.video import MediaInfo, VideoWriter, open_media

# Codecs every current browser plays inside MP4/WebM; other uploads get an H.264 preview for the page.
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
BROWSER_CONTAINERS = {".mp4", ".webm", ".m4v"}


class QueueFullError(DeepfakeLabError):
    """Too many analyses waiting."""


class JobCancelled(Exception):  # noqa: N818 - a control-flow signal
    """Raised inside a scan whose job was deleted."""


@dataclass
class Job:
    """One analysis. `events` holds per-frame records (the JSON schema's frame objects) in order."""

    id: str
    dir: Path
    filename: str
    media: Path
    kind: str
    info: MediaInfo
    options: ScanOptions
    status: str = "queued"  # queued | running | done | failed | cancelled
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    frames_total: int | None = None
    frames_done: int = 0
    running_score: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # name -> file name inside `dir`
    suspicious: list[dict[str, Any]] = field(default_factory=list)  # the most suspicious crops (PNG outputs)
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def summary(self) -> dict[str, Any]:
        """Status document of `GET /api/v1/analyses/{id}` (without the result)."""
        total = self.frames_total
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "filename": self.filename,
            "kind": self.kind,
            "media": {
                "width": self.info.width,
                "height": self.info.height,
                "fps": round(self.info.fps, 3),
                "duration": self.info.duration,
                "frame_count": self.info.frame_count,
                "codec": self.info.codec,
            },
            "progress": {
                "frames_done": self.frames_done,
                "frames_total": total,
                "fraction": round(min(1.0, self.frames_done / total), 4) if total else None,
                "running_score": None if self.running_score is None else round(self.running_score, 4),
            },
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "downloads": sorted(self.outputs),
            "suspicious": self.suspicious,
        }


def public_message(text: str, root: Path, names: dict[Path, str] | None = None) -> str:
    """`text` for an API client: server paths replaced by the client's file name (or `<upload>`).

    Args:
        text: an error or status message that may name files of the job folder.
        root: the jobs folder: anything under it that is not in `names` becomes `<upload>`.
        names: server path -> the name the client knows it by (e.g. the job's media -> the uploaded name).
    """
    for path, name in (names or {}).items():
        for form in {str(path), str(Path(path).resolve())}:
            text = text.replace(form, name)
    for form in {str(root), str(Path(root).resolve())}:
        text = re.sub(re.escape(form) + r"[^\s:'\",;)]*", "<upload>", text)
    return text


def frame_event(fr: FrameScore) -> dict[str, Any]:
    """The per-frame record sent over server-sent events (same fields as the JSON schema's frames)."""

    def r(v: float) -> float | None:
        return round(float(v), 4) if np.isfinite(v) else None

    return {
        "index": fr.index,
        "time": round(fr.time, 4),
        "status": fr.status,
        "prob": None if fr.prob is None else r(fr.prob),
        "faces": [
            {"track": f.track, "box": [round(float(v), 1) for v in f.box], "prob": r(f.prob), "tracked": f.tracked,
             "sharpness": None if f.sharpness is None else round(float(f.sharpness), 1), "reason": f.reason}
            for f in fr.faces
        ],
    }


class _JobProgress(ScanProgress):
    def __init__(self, job: Job) -> None:
        self.job = job

    def file_started(self, source: str, info: MediaInfo | None, total_frames: int | None) -> None:
        self.job.frames_total = total_frames

    def cancelled(self) -> bool:
        return self.job.cancelled

    def frames_done(self, frames: list[FrameScore], running: float | None, dropped: int) -> None:
        job = self.job
        if job.cancelled:
            raise JobCancelled
        with job.lock:
            job.events.extend(frame_event(f) for f in frames)
            job.frames_done += len(frames)
            job.running_score = running


def _write_preview(src: Path, dst: Path) -> None:
    """Re-encode a video the browser cannot play (HEVC, MJPEG, AVI, ...) as H.264 MP4, streaming."""
    with open_media(src) as reader:
        fps = reader.info.fps or 25.0
        with VideoWriter(dst, fps, crf=23, preset="veryfast") as writer:
            for frame in reader:
                writer.write(frame.image, time=frame.time)


class JobManager:
    """Queue + worker threads + expiry. Thread-safe; the web app holds one.

    Args:
        root: parent folder of job folders (created).
        model: the loaded detector shared by all workers (inference only).
        workers: worker threads (each scans one file at a time).
        max_queue: analyses allowed to wait; more raise `QueueFullError`.
        ttl_s: finished jobs (and their files) are deleted this long after they end.
        write_report: also write the HTML report and annotated media per job.
    """

    def __init__(
        self,
        root: Path,
        model: Detector,
        *,
        workers: int = 1,
        max_queue: int = 16,
        ttl_s: float = 3600.0,
        write_report: bool = True,
    ) -> None:
        if workers < 1:
            raise OptionError(Ref("workers"), f" must be >= 1, got {workers}")
        if max_queue < 1:
            raise BadInputError(f"the queue size must be >= 1, got {max_queue}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.ttl_s = float(ttl_s)
        self.write_report = write_report
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"scan-{i}", daemon=True) for i in range(workers)]
        self._threads.append(threading.Thread(target=self._reap, name="reaper", daemon=True))
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ public
    def new_job_dir(self) -> tuple[str, Path]:
        """A fresh job id and its (empty) folder."""
        job_id = uuid.uuid4().hex
        path = self.root / job_id
        path.mkdir(parents=True)
        return job_id, path

    def submit(self, job: Job) -> Job:
        if self._stop.is_set():
            shutil.rmtree(job.dir, ignore_errors=True)
            raise QueueFullError("the server is shutting down; try again later")
        with self._lock:
            self.jobs[job.id] = job
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self.jobs.pop(job.id, None)
            shutil.rmtree(job.dir, ignore_errors=True)
            raise QueueFullError("too many analyses are waiting; try again later") from None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        """Cancel (if running) and remove a job and its files."""
        with self._lock:
            job = self.jobs.pop(job_id, None)
        if job is None:
            return False
        job.cancelled = True
        if job.status in ("queued", "done", "failed", "cancelled"):
            shutil.rmtree(job.dir, ignore_errors=True)
        if not job.ended:
            job.status, job.message = "cancelled", "deleted by the client"
        return True

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = list(self.jobs.values())
        out = {"queued": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
        for j in jobs:
            out[j.status] = out.get(j.status, 0) + 1
        return out

    def shutdown(self, message: str = "the server is shutting down") -> None:
        """Stop taking jobs and cancel every queued or running one (returns at once; signal-handler safe).

        A running scan stops at its next batch of frames; `close` waits for that and removes the folders.
        """
        self._stop.set()
        with self._lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            if not job.ended:
                job.cancelled = True
                job.status, job.message = "cancelled", message

    def close(self, timeout: float = 1.0) -> None:
        """Shut down, wait up to `timeout` s for the workers, and remove every job folder under `root`.

        A scan stops at its next frame; one still starting (face detector set-up) may outlive the wait: the
        workers are daemon threads, so it ends with the process, and its folder is removed here anyway.
        """
        self.shutdown()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self.jobs.clear()
        if self.root.is_dir():
            for p in self.root.iterdir():
                if p.is_dir() and len(p.name) == 32 and p.name.isalnum():  # job folders (uuid hex) only
                    shutil.rmtree(p, ignore_errors=True)

    # ------------------------------------------------------------------ workers
    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                return
            if job.cancelled:
                shutil.rmtree(job.dir, ignore_errors=True)
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        job.status, job.started = "running", time.time()
        try:
            annotate = None
            if self.write_report:
                annotate = job.dir / ("annotated.mp4" if job.kind == "video" else "annotated.png")
            fs = scan_file(
                job.media, self.model, replace(job.options), annotate=annotate, progress=_JobProgress(job)
            )
            if job.cancelled:
                raise JobCancelled
            self._finish(job, fs)
        except JobCancelled:
            if job.status != "cancelled":
                job.status, job.message = "cancelled", "deleted by the client"
        except DeepfakeLabError as exc:
            job.status, job.message = "failed", self._public(job, str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must survive any one bad file
            job.status, job.message = "failed", self._public(job, f"{type(exc).__name__}: {str(exc)[:300]}")
        finally:
            job.finished = time.time()
            if job.cancelled:
                shutil.rmtree(job.dir, ignore_errors=True)

    def _public(self, job: Job, text: str) -> str:
        return public_message(text, self.root, {job.media: job.filename})

    def _public_doc(self, job: Job, value: Any) -> Any:
        """The result document with every string passed through `_public` (no server path reaches a client)."""
        if isinstance(value, str):
            return self._public(job, value) if str(self.root) in value or str(self.root.resolve()) in value else value
        if isinstance(value, dict):
            return {k: self._public_doc(job, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._public_doc(job, v) for v in value]
        return value

    def _finish(self, job: Job, fs: FileScan) -> None:
        # Messages and the document name what the client sent, never our folder layout.
        fs.message = self._public(job, fs.message or "")
        if fs.status == "error":
            job.status, job.message = "failed", fs.message or "the file could not be scanned"
            return
        fs.source = job.filename
        if fs.provenance is not None:  # its `path` is our copy of the upload
            fs.provenance = self._public_doc(job, fs.provenance)
        annotated = Path(fs.annotated) if fs.annotated else None
        result = ScanResult([fs], self.model, job.options)
        doc = result.to_dict()
        if annotated is not None:  # its download name, not its server path (the report links it relatively)
            doc["files"][0]["annotated"] = "annotated" + annotated.suffix
        doc = self._public_doc(job, doc)  # e.g. the provenance block's path
        (job.dir / "result.json").write_text(json.dumps(doc, indent=1))
        job.outputs["result.json"] = "result.json"
        if self.write_report:
            from deepfake_lab.pipelines.report import pick_suspicious, write_report

            write_report(result, job.dir / "report.html", title=f"deepfake-lab: {job.filename}")
            job.outputs["report.html"] = "report.html"
            if annotated is not None:
                job.outputs["annotated" + annotated.suffix] = annotated.name
            picked = pick_suspicious(fs.suspicious, n=6)
            above = [s for s in picked if s.prob >= result.band["threshold"]]
            for k, s in enumerate(above or picked[:3]):
                from PIL import Image

                name = f"suspicious-{k}.png"
                Image.fromarray(s.crop).save(job.dir / name)
                job.outputs[name] = name
                job.suspicious.append(
                    {"file": name, "prob": round(float(s.prob), 4), "time": round(s.time, 3), "track": s.track}
                )
        if job.kind == "video" and (
            job.info.codec not in BROWSER_CODECS or job.media.suffix.lower() not in BROWSER_CONTAINERS
        ):
            _write_preview(job.media, job.dir / "preview.mp4")
            job.outputs["preview.mp4"] = "preview.mp4"
        job.result = doc
        job.message = fs.message
        job.status = "done"

    def _reap(self) -> None:
        while not self._stop.wait(min(30.0, max(0.05, self.ttl_s / 4))):
            now = time.time()
            with self._lock:
                old = [j for j in self.jobs.values() if j.ended and j.finished and now - j.finished > self.ttl_s]
                for j in old:
                    self.jobs.pop(j.id, None)
            for j in old:
                shutil.rmtree(j.dir, ignore_errors=True)
