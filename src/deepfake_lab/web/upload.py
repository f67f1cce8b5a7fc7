"""Streaming multipart upload with a size limit, and media-type probing by content (not by file name)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 4096
MAX_FIELDS = 32


class UploadError(Exception):
    """An upload the service refuses; `status` is the HTTP code (400, 413, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """What a multipart request carried: the one file part (written to `path`) and the text fields."""

    path: Path
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False


async def guarded_chunks(
    chunks: AsyncIterator[bytes], *, idle_timeout: float, stop: threading.Event | None = None, poll: float = 0.1
) -> AsyncIterator[bytes]:
    """Pass the body's chunks through, but give up on a client that stalls or a server that stops.

    Raises:
        UploadError: 408 when no data arrived for `idle_timeout` seconds (a stalled or very slow client
            does not hold its upload slot for ever); 503 as soon as `stop` is set (the server shuts down).
    """
    loop = asyncio.get_running_loop()
    it = chunks.__aiter__()
    while True:
        task = asyncio.ensure_future(it.__anext__())
        deadline = loop.time() + idle_timeout
        while not task.done():
            remaining = deadline - loop.time()
            if (stop is not None and stop.is_set()) or remaining <= 0:
                task.cancel()
                task.add_done_callback(_consume)
                if stop is not None and stop.is_set():
                    raise UploadError(503, "the server is shutting down; send the file again later")
                raise UploadError(408, f"upload timed out: no data for {idle_timeout:g} s")
            await asyncio.wait({task}, timeout=min(poll, remaining))
        try:
            chunk = task.result()
        except StopAsyncIteration:
            return
        yield chunk


def _consume(task: asyncio.Future) -> None:
    """Retrieve the outcome of an abandoned read, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def receive_upload(
    chunks: AsyncIterator[bytes], content_type: str, dest: Path, *, max_bytes: int, file_field: str = "file"
) -> Upload:
    """Parse a multipart/form-data body chunk by chunk, writing the file part to `dest`.

    The size limit is enforced while the bytes arrive: the upload stops (413) as soon as the file part
    passes `max_bytes`, before the rest is read. Text fields are capped at `MAX_FIELD_BYTES` each.
    """
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(400, "send the file as multipart/form-data (field 'file')")
    up = Upload(path=dest)
    state: dict[str, object] = {"headers": {}, "field": b"", "value": b"", "name": None, "is_file": False}
    buf = bytearray()
    out = dest.open("wb")
    errors: list[UploadError] = []

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = state["field"] + data[start:end]  # type: ignore[operator]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = state["value"] + data[start:end]  # type: ignore[operator]

    def on_header_end() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        headers[bytes(state["field"]).lower()] = bytes(state["value"])  # type: ignore[arg-type]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        is_file = name == file_field
        if is_file and up.has_file:
            errors.append(UploadError(400, "send exactly one file per analysis"))
        state["name"], state["is_file"] = name, is_file
        if is_file:
            up.has_file = True
            # Kept for display only; never used as a path.
            up.filename = Path(disp.get(b"filename", b"upload").decode("utf-8", "replace")).name[:200] or "upload"
        buf.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if errors:
            return
        chunk = data[start:end]
        if state["is_file"]:
            up.size += len(chunk)
            if up.size > max_bytes:
                errors.append(UploadError(413, f"file larger than the limit of {max_bytes / 1e6:.0f} MB"))
                return
            out.write(chunk)
        else:
            buf.extend(chunk)
            if len(buf) > MAX_FIELD_BYTES:
                errors.append(UploadError(400, f"form field {state['name']!r} is too long"))

    def on_part_end() -> None:
        if not state["is_file"] and state["name"] and not errors:
            if len(up.fields) >= MAX_FIELDS:
                errors.append(UploadError(400, "too many form fields"))
            else:
                up.fields[str(state["name"])] = buf.decode("utf-8", "replace")
        state["headers"] = {}

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in chunks:
            try:
                parser.write(chunk)
            except Exception as exc:  # noqa: BLE001 - the multipart library raises several types
                raise UploadError(400, f"malformed multipart body: {str(exc)[:120]}") from None
            if errors:
                raise errors[0]
        try:
            parser.finalize()
        except Exception as exc:  # noqa: BLE001
            raise UploadError(400, f"malformed multipart body: {str(exc)[:120]}") from None
        if errors:
            raise errors[0]
    finally:
        out.close()
    if not up.has_file:
        raise UploadError(400, "no file: send the media in a form field named 'file'")
    if up.size == 0:
        raise UploadError(415, "the file is empty")
    return up


# Magic numbers of the containers we accept; the decoder then has the last word (`sniff_media`).
_SIGNATURES: list[tuple[int, bytes, str, str]] = [
    (0, b"\xff\xd8\xff", "image", ".jpg"),
    (0, b"\x89PNG\r\n\x1a\n", "image", ".png"),
    (0, b"BM", "image", ".bmp"),
    (0, b"II*\x00", "image", ".tif"),
    (0, b"MM\x00*", "image", ".tif"),
    (0, b"\x1aE\xdf\xa3", "video", ".mkv"),  # Matroska / WebM (extension fixed after probing)
    (0, b"\x00\x00\x01\xba", "video", ".mpg"),
    (0, b"FLV", "video", ".flv"),
]


def sniff_media(path: Path) -> tuple[str, str] | None:
    """("image" | "video", extension) from the first bytes of `path`, or None when it is not media we read."""
    with path.open("rb") as f:
        head = f.read(64)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", ".webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"qt  ",):
            return "video", ".mov"
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
            return None  # still-image HEIF/AVIF: not supported by our image reader
        return "video", ".mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video", ".mov"
    for offset, magic, kind, ext in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind, ext
    return None
