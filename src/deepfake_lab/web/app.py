"""FastAPI service: upload an image or video, follow its manipulation score live, download the results.

Routes (all under `/api/v1` need the bearer token when one is set):
    POST   /api/v1/analyses                  multipart upload (field `file`, options as fields) -> 202 + id
    GET    /api/v1/analyses/{id}             status, progress, result (the `detect --json` document)
    GET    /api/v1/analyses/{id}/events      server-sent events: `frame` (per-frame scores, in order), `end`
    GET    /api/v1/analyses/{id}/media       the uploaded media (or its H.264 preview) for the page's player
    GET    /api/v1/analyses/{id}/files/{name} result.json, report.html, annotated.mp4|png, suspicious-K.png
    DELETE /api/v1/analyses/{id}
    GET    /healthz, GET / (the page), GET /docs (OpenAPI UI, served offline)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import shutil
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan import Detector, ScanOptions, option_specs, option_types
from deepfake_lab.video import probe
from deepfake_lab.web.jobs import Job, JobManager, QueueFullError, public_message
from deepfake_lab.web.upload import UploadError, guarded_chunks, receive_upload, sniff_media

log = logging.getLogger("deepfake_lab.web")

STATIC = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}


def form_fields(cls: type) -> dict[str, type]:
    """Form fields a client may set: the fields of dataclass `cls` whose `OptionSpec` has `web=True`, with
    their value types (`int | None` → int); the CLI's `detect` options of the same names."""
    types = option_types(cls)
    return {name: types[name][0] for name, spec in option_specs(cls).items() if spec.web}


OPTION_FIELDS: dict[str, type] = form_fields(ScanOptions)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def parse_options(fields: dict[str, str], defaults: ScanOptions) -> ScanOptions:
    """ScanOptions from form fields (unknown fields and bad values are 400s)."""
    from dataclasses import replace

    values: dict[str, Any] = {}
    for key, raw in fields.items():
        if key not in OPTION_FIELDS:
            raise UploadError(400, f"unknown option {key!r}; allowed: {', '.join(sorted(OPTION_FIELDS))}")
        if raw.strip() == "":
            continue
        try:
            values[key] = OPTION_FIELDS[key](raw.strip())
        except ValueError:
            kind = OPTION_FIELDS[key].__name__
            raise UploadError(400, f"option {key!r} must be a {kind}, got {raw[:40]!r}") from None
    opt = replace(defaults, **values, realtime=False)
    try:
        opt.validate()  # messages name the fields (`OptionError`), as the form does
    except BadInputError as exc:
        raise UploadError(400, str(exc)) from None
    return opt


def create_app(
    model: Detector,
    *,
    jobs_dir: Path,
    workers: int = 1,
    max_queue: int = 16,
    ttl_s: float = 3600.0,
    max_upload_bytes: int = 500 * 1024 * 1024,
    token: str | None = None,
    defaults: ScanOptions | None = None,
    upload_timeout_s: float = 30.0,
) -> FastAPI:
    """The web app around one loaded detector.

    Args:
        model: detector shared by all jobs.
        jobs_dir: parent of the per-job folders.
        workers: scan worker threads; max_queue: analyses allowed to wait (more get 503).
        ttl_s: finished analyses are deleted this long after they end.
        max_upload_bytes: larger uploads are refused (413) while they stream in.
        token: when set, every /api route needs `Authorization: Bearer <token>` (or `?access_token=` for
            the page's <video> and EventSource, which cannot send headers).
        defaults: scan options used when a request does not set them.
        upload_timeout_s: an upload that sends no data for this long is refused (408) and its slot freed.

    Shutdown: `app.state.begin_shutdown()` (the server calls it on the first SIGTERM/SIGINT) cancels every
    queued and running analysis, ends the event streams and refuses uploads in flight (503) within about
    0.1 s; the app's lifespan end then waits briefly for the scan workers and removes the job folders.
    """
    defaults = defaults or ScanOptions()
    manager = JobManager(jobs_dir, model, workers=workers, max_queue=max_queue, ttl_s=ttl_s)
    stopping = threading.Event()

    def begin_shutdown() -> None:
        stopping.set()
        manager.shutdown()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        stopping.set()
        await asyncio.to_thread(manager.close)

    app = FastAPI(
        lifespan=lifespan,
        title="deepfake-lab",
        version=__version__,
        description="Upload an image or a video; get the probability that its faces were manipulated.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.manager = manager
    app.state.begin_shutdown = begin_shutdown
    app.state.stopping = stopping
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def auth(request: Request) -> None:
        if not token:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("access_token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def job_or_404(job_id: str) -> Job:
        job = manager.get(job_id) if job_id.isalnum() and len(job_id) == 32 else None
        if job is None:
            raise HTTPException(404, f"no analysis {job_id[:40]!r} (unknown or expired)")
        return job

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, "bad request: " + "; ".join(str(e.get("msg")) for e in exc.errors())[:300])

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="deepfake-lab API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "model": model.summary().get("name"), "jobs": manager.counts()}

    @app.post("/api/v1/analyses", status_code=202, dependencies=[Depends(auth)])
    async def create(request: Request) -> JSONResponse:
        """Upload one image or video (multipart field `file`; options as extra fields) and queue its analysis."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_upload_bytes + 1024 * 1024:
            return _error(413, f"file larger than the limit of {max_upload_bytes / 1e6:.0f} MB")
        if stopping.is_set():
            return JSONResponse(
                {"error": "the server is shutting down"}, status_code=503, headers={"Retry-After": "10"}
            )
        job_id, job_dir = manager.new_job_dir()
        keep = False
        try:
            up = await receive_upload(
                guarded_chunks(request.stream(), idle_timeout=upload_timeout_s, stop=stopping),
                request.headers.get("content-type", ""), job_dir / "upload.bin",
                max_bytes=max_upload_bytes,
            )
            options = parse_options(up.fields, defaults)
            sniffed = sniff_media(up.path)
            if sniffed is None:
                raise UploadError(415, "not an image or video this service reads (JPEG, PNG, WebP, MP4, MOV, WebM)")
            kind, ext = sniffed
            media = up.path.rename(job_dir / f"input{ext}")
            try:
                info = await asyncio.to_thread(probe, media)
            except BadInputError as exc:  # its message names our file: the client gets its own name
                reason = public_message(str(exc), manager.root, {media: up.filename})
                raise UploadError(415, f"not a readable {kind}: {reason}") from None
            if info.kind == "video" and (info.frame_count == 0 or (info.duration is not None and info.duration <= 0)):
                raise UploadError(415, "the video has no frames")
            job = Job(job_id, job_dir, up.filename, media, "image" if info.kind == "image" else "video", info, options)
            manager.submit(job)
            keep = True
        except UploadError as exc:
            return _error(exc.status, str(exc))
        except ClientDisconnect:  # the client went away mid-upload: nothing to answer, no traceback
            log.info("upload %s: the client disconnected", job_id)
            return _error(400, "the client disconnected during the upload")
        except QueueFullError as exc:
            keep = True  # submit() already removed the folder
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "10"})
        finally:
            if not keep:
                shutil.rmtree(job_dir, ignore_errors=True)
        base = f"/api/v1/analyses/{job_id}"
        return JSONResponse(
            {
                "id": job_id,
                "status": job.status,
                "links": {"self": base, "events": f"{base}/events", "media": f"{base}/media"},
            },
            status_code=202,
            headers={"Location": base},
        )

    @app.get("/api/v1/analyses/{job_id}", dependencies=[Depends(auth)])
    def status(job_id: str) -> dict[str, Any]:
        """Status, progress and (when done) the result document (same schema as `detect --json`)."""
        job = job_or_404(job_id)
        return {**job.summary(), "result": job.result}

    @app.delete("/api/v1/analyses/{job_id}", status_code=204, dependencies=[Depends(auth)])
    def delete(job_id: str) -> Response:
        """Cancel an analysis (if it runs) and delete its files."""
        job_or_404(job_id)
        manager.delete(job_id)
        return Response(status_code=204)

    @app.get("/api/v1/analyses/{job_id}/events", dependencies=[Depends(auth)])
    async def events(job_id: str, request: Request) -> StreamingResponse:
        """Server-sent events: `frame` per scored frame in order (id = its position), then one `end`."""
        job = job_or_404(job_id)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream() -> AsyncIterator[str]:
            i = start
            yield f"event: status\ndata: {json.dumps(job.summary())}\n\n"
            idle = 0.0
            while True:
                with job.lock:
                    new = job.events[i:]
                for ev in new:
                    yield f"id: {i}\nevent: frame\ndata: {json.dumps(ev)}\n\n"
                    i += 1
                if (job.ended and i >= len(job.events)) or stopping.is_set():
                    end = {"status": job.status, "message": job.message}
                    if not job.ended:  # the server stops before the analysis ends
                        end = {"status": "cancelled", "message": "the server is shutting down"}
                    if job.result is not None:
                        end["score"] = job.result["files"][0]["score"]
                        end["verdict"] = job.result["files"][0]["verdict"]
                        end["reason"] = job.result["files"][0]["reason"]
                    yield f"event: end\ndata: {json.dumps(end)}\n\n"
                    return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)
                idle += 0.1
                if not new and idle >= 15:  # keep proxies from closing a quiet stream
                    idle = 0.0
                    yield ": keep-alive\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @app.get("/api/v1/analyses/{job_id}/media", dependencies=[Depends(auth)])
    def media(job_id: str) -> FileResponse:
        """The uploaded media for the page's player (an H.264 preview when the browser cannot play it)."""
        job = job_or_404(job_id)
        preview = job.dir / "preview.mp4"
        path = preview if preview.exists() else job.media
        if not path.exists():
            raise HTTPException(404, "the media was deleted")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))

    @app.get("/api/v1/analyses/{job_id}/files/{name}", dependencies=[Depends(auth)])
    def files(job_id: str, name: str) -> FileResponse:
        """A result file: result.json, report.html, annotated.mp4 / annotated.png, suspicious-K.png."""
        job = job_or_404(job_id)
        stored = job.outputs.get(name)  # only names the job wrote: no path ever comes from the client
        if stored is None or not (job.dir / stored).exists():
            raise HTTPException(404, f"no file {name[:60]!r} for this analysis")
        path = job.dir / stored
        download = path.suffix not in (".png", ".html", ".json")
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            filename=f"{Path(job.filename).stem}.{name}" if download else None,
        )

    return app
