"""Provenance: the invisible watermark round trip and its robustness, C2PA manifests (signed, read, tampered),
both labels on `swap` and `sample` outputs, `--no-provenance`, and the `provenance inspect` CLI."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import deepfake_lab
from deepfake_lab.cli import main
from deepfake_lab.data.augment import jpeg
from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan.schema import check as check_scan_schema
from deepfake_lab.provenance import DISABLED_WARNING, Provenance, inspect_provenance
from deepfake_lab.provenance.keys import CERT_ENV, KEY_ENV, load_or_create_identity
from deepfake_lab.provenance.manifest import C2paInfo, may_hold_manifest, read_manifest
from deepfake_lab.provenance.payload import WatermarkPayload
from deepfake_lab.provenance.watermark import decode_pooled, decode_watermark, embed_watermark
from deepfake_lab.provenance.watermark_compat import maxdct_compat_decode, maxdct_compat_encode
from deepfake_lab.video import VideoWriter, open_media

SWAP_MODEL = Path(deepfake_lab.__file__).parent / "assets" / "swap-lite-wolfgang-man.safetensors"
PAYLOAD = WatermarkPayload(kind="swap", model_id=0x2ABCD, run_id=0x01234)
LIBRARY_DWTDCT_SHA256 = "ed7e74a6c6cfc2dd494f784970de6a0f6c0f4fde8f495d47de5f6a94ce1ecb92"


@pytest.fixture(scope="module")
def prov_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prov_home")


@pytest.fixture(autouse=True)
def _home(prov_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys go to a test folder, never the user's ~/.config; no user credentials leak in."""
    monkeypatch.setenv("DEEPFAKE_LAB_HOME", str(prov_home))
    monkeypatch.delenv(CERT_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)


def run_cli(args: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def natural_image(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A smooth colour image with edges (blurred noise + shapes): uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 4)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    cv2.circle(img, (w // 3, h // 2), h // 4, (230, 40, 40), -1)
    cv2.rectangle(img, (w // 2, h // 5), (w - 20, h - 30), (20, 200, 90), -1)
    return img


def tamper_png(src: Path, dst: Path) -> None:
    """Brighten some pixels inside the PNG image data, keeping every other chunk (the C2PA one too)."""
    data = src.read_bytes()
    chunks, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    width = struct.unpack(">I", chunks[0][1][:4])[0]
    raw = bytearray(zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT")))
    row = 1 + 3 * width
    for k in range(20 * row, 30 * row):
        if k % row:  # leave the per-row filter bytes alone so the PNG still decodes
            raw[k] = (raw[k] + 40) % 256
    out, done = [data[:8]], False
    for typ, body in chunks:
        if typ == b"IDAT":
            if done:
                continue
            body, done = zlib.compress(bytes(raw)), True
        out.append(struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body)))
    dst.write_bytes(b"".join(out))


# ------------------------------------------------------------------ watermark


def test_payload_bits_round_trip_and_crc() -> None:
    bits = PAYLOAD.to_bits()
    assert bits.shape == (64,) and WatermarkPayload.from_bits(bits) == PAYLOAD
    for i in (0, 20, 50, 63):  # any single flipped bit is caught (tool tag or CRC-16)
        bad = bits.copy()
        bad[i] ^= 1
        assert WatermarkPayload.from_bits(bad) is None
    with pytest.raises(ValueError):
        WatermarkPayload("swap", 1 << 18, 0)


def test_embed_decode_round_trip_colour_and_gray() -> None:
    img = natural_image()
    marked = embed_watermark(img, PAYLOAD)
    assert marked.shape == img.shape and marked.dtype == np.uint8
    psnr = 10 * np.log10(255**2 / np.mean((marked.astype(float) - img) ** 2))
    assert psnr > 35, psnr
    res = decode_watermark(marked)
    assert res.payload == PAYLOAD and res.agreement > 0.8
    assert not decode_watermark(img).found  # clean image: nothing
    gray = img[..., 1]
    assert decode_watermark(embed_watermark(gray, PAYLOAD)).payload == PAYLOAD
    assert not decode_watermark(img[:40, :40]).found  # too small to carry the tile: refused, not guessed


def test_watermark_survives_jpeg_crop_and_half_size() -> None:
    marked = embed_watermark(natural_image(288, 384, seed=1), PAYLOAD)
    assert decode_watermark(jpeg(marked, 75)).payload == PAYLOAD
    cropped = marked[13:-17, 21:-11]  # not aligned to the 8-px block grid
    res = decode_watermark(cropped)
    assert res.payload == PAYLOAD and res.offset != (0, 0)
    half = cv2.resize(marked, (192, 144), interpolation=cv2.INTER_AREA)
    res = decode_watermark(half)
    assert res.payload == PAYLOAD and res.scale == 2


def test_pooled_votes_recover_what_single_noisy_frames_cannot() -> None:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(12):  # 176×144 frames with strong independent noise (σ = 20 grey levels)
        marked = embed_watermark(natural_image(144, 176, seed=i), PAYLOAD)
        frames.append(np.clip(marked + rng.normal(0, 20, marked.shape), 0, 255).astype(np.uint8))
    assert not any(decode_watermark(f, search=False).found for f in frames)
    assert decode_pooled(frames).payload == PAYLOAD
    assert not decode_pooled([natural_image(144, 176, seed=50 + i) for i in range(12)]).found


def test_invisible_watermark_compat_matches_the_library() -> None:
    """`maxdct_compat_*` reproduce invisible-watermark 0.2.0 `dwtDct`: the digest and bits below were produced by
    the library itself (scratch venv, `WatermarkEncoder().encode(bgr, "dwtDct")`; see benchmarks/provenance.py)."""
    import hashlib

    bgr = np.random.default_rng(5).integers(60, 200, (256, 264, 3), dtype=np.uint8)
    bits = [int(b) for b in np.random.default_rng(6).integers(0, 2, 16)]
    out = maxdct_compat_encode(bgr, bits)
    assert hashlib.sha256(out.tobytes()).hexdigest() == LIBRARY_DWTDCT_SHA256
    assert maxdct_compat_decode(out, 16).astype(int).tolist() == bits


# ------------------------------------------------------------------ C2PA + labels on files


def test_save_image_carries_both_labels_and_tamper_breaks_c2pa(tmp_path: Path, capsys) -> None:
    prov = Provenance(kind="sample", model="dcgan-32", parameters={"n": 4, "seed": 0})
    out = prov.save_image(natural_image(), tmp_path / "gen.png")
    rep = inspect_provenance(out)
    c = rep.c2pa
    assert c.present and c.valid and not c.trusted and c.local_key and c.synthetic
    assert c.digital_source_type.endswith("/trainedAlgorithmicMedia") and c.model == "dcgan-32"
    assert c.generation["parameters"] == {"n": 4, "seed": 0}
    assert "untrusted" not in " ".join(c.errors) and "local" in c.status
    assert rep.watermark.fraction == 1.0 and rep.watermark.payload["kind"] == "sample"
    assert rep.watermark.matches_manifest is True and rep.labelled_synthetic
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    json.dumps(rep.to_dict())

    tampered = tmp_path / "tampered.png"
    tamper_png(out, tampered)
    t = inspect_provenance(tampered).c2pa
    assert t.present and t.valid is False and "INVALID" in t.status
    assert any("mismatch" in e for e in t.errors), t.errors
    code, stdout, _ = run_cli(["provenance", "inspect", tampered], capsys)
    assert code == 0 and "INVALID" in stdout

    stripped = tmp_path / "stripped.png"  # re-saved by another tool: C2PA gone, watermark stays
    Image.open(out).save(stripped)
    s = inspect_provenance(stripped)
    assert not s.c2pa.present and s.watermark.payload == rep.watermark.payload and s.labelled_synthetic


def _box(kind: bytes, body: bytes, large: bool = False) -> bytes:
    if large:  # 64-bit size form
        return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_manifest_precheck_is_false_only_when_sure(tmp_path: Path) -> None:
    c2pa_uuid = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
    ftyp = _box(b"ftyp", b"isom" + bytes(4) + b"isomiso2")
    cases = {
        "plain.mp4": (ftyp + _box(b"mdat", bytes(100), large=True) + _box(b"moov", bytes(20)), False),
        "other-uuid.mov": (ftyp + _box(b"uuid", bytes(16) + b"c2pa") + _box(b"mdat", bytes(8)), False),
        "signed.mp4": (ftyp + _box(b"uuid", c2pa_uuid + bytes(40)) + _box(b"mdat", bytes(8)), True),
        "to-eof.mp4": (ftyp + struct.pack(">I4s", 0, b"mdat") + bytes(50), False),
        "damaged.mp4": (ftyp + struct.pack(">I4s", 9999, b"mdat") + bytes(50), True),  # c2pa-python decides
        "tiny.m4v": (b"\x00\x00", True),
        "marked.jpg": (b"\xff\xd8" + bytes(300) + b"jumb" + b"c2pa" + bytes(30), True),
        "plain.jpg": (b"\xff\xd8" + bytes(300), False),
        "empty.png": (b"", True),
        "clip.mkv": (bytes(64), True),  # not a format the pre-check knows
        "anim.gif": (b"GIF89a" + bytes(64), True),  # GIF splits the store into 255-byte blocks: not searched
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert may_hold_manifest(tmp_path / name) is expected, name
    assert may_hold_manifest(tmp_path / "missing.mp4") is True

    def no_serial() -> str:
        raise AssertionError("the local certificate is read only for a signed manifest")

    assert read_manifest(tmp_path / "plain.mp4", no_serial) == C2paInfo()
    out = Provenance(kind="sample", model="dcgan-32").save_image(natural_image(), tmp_path / "gen.png")
    assert may_hold_manifest(out) and read_manifest(out, lambda: "0").present
    stripped = tmp_path / "stripped.png"
    Image.open(out).save(stripped)
    assert not may_hold_manifest(stripped)


def _reference_embed(image: np.ndarray, payload: WatermarkPayload, scales=(16.0, 40.0, 40.0)) -> np.ndarray:
    """The scheme as documented, the slow way: YUV, Haar DWT, 4×4 block DCT of LL, QIM on (0,1) and (1,0),
    inverse DCT and DWT, back to RGB (float64 throughout)."""
    import pywt

    from deepfake_lab.provenance import watermark as wm

    x = image.astype(np.float64)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    yuv = np.stack([y, 0.492 * (x[..., 2] - y) + 128.0, 0.877 * (x[..., 0] - y) + 128.0], axis=-1)
    h, w = image.shape[:2]
    hh, ww = h // 8 * 8, w // 8 * 8
    d = wm._D
    for c, scale in enumerate(scales):
        ll, details = pywt.dwt2(yuv[:hh, :ww, c], "haar")
        b = ll.reshape(hh // 8, 4, ww // 8, 4).transpose(0, 2, 1, 3)
        coef = d @ b @ d.T
        off = scale * (0.25 + 0.5 * wm._tile_bits(payload.to_bits(), hh // 8, ww // 8))
        for i, j in ((0, 1), (1, 0)):
            coef[:, :, i, j] = np.round((coef[:, :, i, j] - off) / scale) * scale + off
        ll = (d.T @ coef @ d).transpose(0, 2, 1, 3).reshape(hh // 2, ww // 2)
        yuv[:hh, :ww, c] = pywt.idwt2((ll, details), "haar")
    yy, u, v = yuv[..., 0], yuv[..., 1] - 128.0, yuv[..., 2] - 128.0
    r, bl = yy + v / 0.877, yy + u / 0.492
    rgb = np.stack([r, (yy - 0.299 * r - 0.114 * bl) / 0.587, bl], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def test_fast_embed_equals_the_dwt_dct_definition() -> None:
    """The separable-kernel embed gives the pixels of the DWT -> block DCT -> QIM -> inverse definition
    (float rounding may move a pixel by 1 on a .5 tie), on a frame whose size is no multiple of 8."""
    img = natural_image(243, 330, seed=3)
    fast, ref = embed_watermark(img, PAYLOAD), _reference_embed(img, PAYLOAD)
    diff = np.abs(fast.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert np.array_equal(fast[240:], img[240:]) and np.array_equal(fast[:, 328:], img[:, 328:])  # edge kept


def test_known_phase_votes_match_the_full_soft_map() -> None:
    """The quick check of one phase (its own blocks only) gives the tile votes of the full soft map."""
    from deepfake_lab.provenance import watermark as wm

    img = jpeg(embed_watermark(natural_image(256, 320), PAYLOAD)[None], 75)[0]
    softs = wm._softs(img, wm.DEFAULT_CONFIG)
    for dy, dx in ((0, 0), (3, 5), (7, 1)):
        t_full, n_full = wm._phase_tiles(softs, dy, dx)
        t_fast, n_fast = wm._tiles_at(img, wm.DEFAULT_CONFIG, dy, dx)
        assert np.allclose(t_full, t_fast, atol=1e-2) and np.array_equal(n_full, n_fast)
    cropped = img[5:, 3:]  # grid phase (3, 5) after the crop: found by the vectorised 64-phase search
    res = decode_watermark(cropped)
    assert res.payload == PAYLOAD and res.scale == 1 and abs(res.offset[0] - 3) <= 1 and abs(res.offset[1] - 5) <= 1


def _keyed_clip(path: Path, frames: list[np.ndarray], gop: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "crf": "18", "preset": "ultrafast"}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())
    return path


def test_keyframe_sample_is_spread_bounded_and_stops_early(tmp_path: Path) -> None:
    base = natural_image(256, 320)
    frames = [np.roll(base, 2 * i, axis=1) for i in range(60)]
    plain = _keyed_clip(tmp_path / "plain.mp4", frames, gop=12)  # key frames at 0, 12, 24, 36, 48
    rep = inspect_provenance(plain, max_frames=8, confirm=3, sampling="keyframes")
    w = rep.watermark
    assert w.frames_checked == 8 and w.sample_limit == 8 and not w.stopped_early and w.frames_found == 0
    assert w.frame_indices == [0, 12, 24, 36, 1, 13, 25, 37]  # 4 key frames spread first, then frames after them
    assert not rep.labelled_synthetic
    marked = _keyed_clip(tmp_path / "marked.mp4", [embed_watermark(f, PAYLOAD) for f in frames], gop=12)
    rep = inspect_provenance(marked, max_frames=16, confirm=3, sampling="keyframes")
    w = rep.watermark
    assert w.stopped_early and w.frames_checked == 3 and w.frame_indices == [0, 12, 24]
    assert w.payload == PAYLOAD.to_dict() and w.pooled_payload == PAYLOAD.to_dict() and rep.labelled_synthetic
    full = inspect_provenance(marked, max_frames=16).watermark  # the default: every sampled frame, evenly
    assert full.frames_checked == 16 and full.fraction == 1.0 and not full.stopped_early
    assert full.frame_indices == list(range(0, 48, 3)) and full.sampling == "even"


def test_frames_handed_over_are_checked_without_decoding_the_file(tmp_path: Path) -> None:
    base = natural_image(256, 320)
    frames = [embed_watermark(np.roll(base, 2 * i, axis=1), PAYLOAD) for i in range(30)]
    clip = _keyed_clip(tmp_path / "marked.mp4", frames, gop=12)
    handed: list[int] = []

    def sample():  # what a scan hands over: every 4th frame it decoded
        for i in range(0, 30, 4):
            handed.append(i)
            yield i, frames[i]

    rep = inspect_provenance(clip, max_frames=16, confirm=3, sampling="scan", video_frames=sample())
    w = rep.watermark
    assert w.sampling == "scan" and w.stopped_early and w.frame_indices == [0, 4, 8] and handed == [0, 4, 8]
    assert w.payload == PAYLOAD.to_dict() and rep.labelled_synthetic and rep.kind == "video"
    plain = [(i, np.roll(base, i, axis=0)) for i in range(20)]
    w = inspect_provenance(clip, max_frames=5, confirm=3, video_frames=iter(plain)).watermark  # "scan" by default
    assert w.frames_checked == 5 and w.frame_indices == [0, 1, 2, 3, 4] and w.frames_found == 0  # bounded
    assert w.sampling == "scan"
    for sampling in ("keyframes", "even"):
        with pytest.raises(BadInputError, match="with video_frames use 'scan'"):
            inspect_provenance(clip, sampling=sampling, video_frames=iter(plain))
    with pytest.raises(BadInputError, match="none were given"):
        inspect_provenance(clip, sampling="scan")


def test_detect_reports_both_labels_and_a_tampered_manifest(tiny_detector: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    good = Provenance(kind="sample", model="dcgan-32").save_image(natural_image(), tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    tamper_png(good, bad)
    code, _, err = run_cli(["detect", good, bad, "-m", tiny_detector, "-q", "--json", tmp_path / "s.json"], capsys)
    assert code == 0, err
    files = {Path(f["source"]).name: f["provenance"] for f in json.loads((tmp_path / "s.json").read_text())["files"]}
    assert files["good.png"]["c2pa"]["valid"] is True and files["good.png"]["labelled_synthetic"] is True
    assert files["good.png"]["watermark"]["payload"]["kind"] == "sample"
    assert files["bad.png"]["c2pa"]["valid"] is False and "INVALID" in files["bad.png"]["summary"]
    assert files["good.png"]["watermark"]["frames_checked"] == 1 and files["good.png"]["watermark"]["sample_limit"] == 1
    assert check_scan_schema(json.loads((tmp_path / "s.json").read_text())) is None


def test_small_images_are_enlarged_with_a_notice(tmp_path: Path) -> None:
    notes: list[str] = []
    prov = Provenance(kind="interpolate", model="ae-dense", notify=notes.append)
    small = natural_image(36, 274)
    out = prov.save_image(small, tmp_path / "strip.png")
    assert Image.open(out).size == (274 * 4, 36 * 4)
    assert any("enlarged ×4" in n for n in notes)
    assert inspect_provenance(out).watermark.frames_found == 1


def test_users_own_credentials_and_bad_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = load_or_create_identity()
    monkeypatch.setenv("DEEPFAKE_LAB_HOME", str(tmp_path / "other"))
    other = load_or_create_identity()
    assert other.created and other.signer_serial() != local.signer_serial()
    monkeypatch.setenv(CERT_ENV, str(local.cert_path))
    monkeypatch.setenv(KEY_ENV, str(local.key_path))
    mine = load_or_create_identity()
    assert not mine.local and mine.signer_serial() == local.signer_serial()
    out = Provenance(kind="sample", model="m").save_image(natural_image(), tmp_path / "a.png")
    assert inspect_provenance(out).c2pa.signer["cert_serial_number"] == local.signer_serial()
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(BadInputError, match="needs its key"):
        load_or_create_identity()
    monkeypatch.setenv(KEY_ENV, str(local.cert_path))  # a certificate is not a key
    with pytest.raises(BadInputError):
        load_or_create_identity()


# ------------------------------------------------------------------ generating commands


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An (untrained) exported DCGAN-32: enough for the generating commands' labelling."""
    import torch

    from deepfake_lab.models.catalogue import create_model
    from deepfake_lab.train.checkpoint import export_model

    torch.manual_seed(0)
    kwargs = {"width": 8}
    st, _ = export_model(
        create_model("dcgan-32", **kwargs), tmp_path_factory.mktemp("gan"), model_name="dcgan-32",
        model_kwargs=kwargs, family="gan", card={"training": {"data": "digits"}},
    )  # fmt: skip
    return st


def test_sample_and_latent_arith_are_labelled(gan_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    code, _, err = run_cli(["sample", gan_run, "-n", 16, "-o", out], capsys)
    assert code == 0, err
    rep = inspect_provenance(out)
    assert rep.c2pa.valid and rep.c2pa.synthetic and rep.c2pa.generation["command"] == "sample"
    assert rep.c2pa.generation["parameters"]["n"] == 16 and len(rep.c2pa.generation["model_sha256"]) == 64
    assert rep.watermark.payload == rep.c2pa.generation["watermark"]

    arith = tmp_path / "arith.png"
    assert run_cli(["latent-arith", gan_run, "--a", "1,2", "--b", "3", "--c", "4", "-o", arith], capsys)[0] == 0
    rep = inspect_provenance(arith)
    assert rep.c2pa.valid and rep.watermark.payload["kind"] == "latent-arith"

    plain = tmp_path / "plain.png"
    code, _, err = run_cli(["sample", gan_run, "-n", 16, "-o", plain, "--no-provenance"], capsys)
    assert code == 0 and DISABLED_WARNING in err
    rep = inspect_provenance(plain)
    assert not rep.c2pa.present and rep.watermark.frames_found == 0 and not rep.labelled_synthetic


@pytest.fixture(scope="module")
def clip(man_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """First 8 frames (640×360) of single_face.mp4, with its audio."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with open_media(man_video) as r, VideoWriter(out, fps=r.info.fps, audio_from=man_video, preset="ultrafast") as w:
        for f in r:
            if f.index >= 8:
                break
            w.write(f.image, time=f.time)
    return out


def test_swap_video_carries_both_labels_tamper_and_no_provenance(
    clip: Path, tmp_path: Path, capsys, tiny_detector: Path  # noqa: F811
) -> None:
    out = tmp_path / "swapped.mp4"
    code, _, err = run_cli(["swap", clip, "--model", SWAP_MODEL, "--to", "a", "-o", out, "-q"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped.mp4", "swapped.mp4.json"]  # no temp files
    rep = inspect_provenance(out)
    c, w = rep.c2pa, rep.watermark
    assert c.present and c.valid and c.synthetic and c.model == "swap-lite-wolfgang-man"
    assert c.generation["command"] == "swap" and c.generation["parameters"]["to"] == "a"
    assert w.frames_checked == 8 and w.fraction >= 0.95 and w.payload["kind"] == "swap"
    assert w.matches_manifest is True
    side = json.loads((tmp_path / "swapped.mp4.json").read_text())
    assert side["provenance"]["watermark"] == w.payload
    with open_media(out) as r:
        assert r.info.has_audio and r.info.frame_count == 8

    code, stdout, _ = run_cli(["provenance", "inspect", "--json", out], capsys)
    assert code == 0 and json.loads(stdout)[0]["c2pa"]["valid"] is True
    code, _, err = run_cli(["detect", out, "--model", tiny_detector, "-q", "--json", tmp_path / "d.json"], capsys)
    found = json.loads((tmp_path / "d.json").read_text())["files"][0]["provenance"]  # from the scan's own frames
    assert found["labelled_synthetic"] and found["watermark"]["sampling"] == "scan", (code, err)
    assert found["watermark"]["frame_indices"] == [0, 1, 2] and found["watermark"]["stopped_early"]

    data = bytearray(out.read_bytes())  # edit the video payload: the manifest's BMFF hash must fail
    i = data.find(b"mdat")
    for k in range(i + 2000, i + 2064):
        data[k] ^= 0x5A
    bad = tmp_path / "tampered.mp4"
    bad.write_bytes(bytes(data))
    t = inspect_provenance(bad, max_frames=2).c2pa
    assert t.present and t.valid is False and any("mismatch" in e for e in t.errors), t.errors

    plain = tmp_path / "plain.mp4"
    code, _, err = run_cli(["swap", clip, "--model", SWAP_MODEL, "-o", plain, "-q", "--no-provenance"], capsys)
    assert code == 0 and DISABLED_WARNING in err
    rep = inspect_provenance(plain)
    assert not rep.c2pa.present and rep.watermark.frames_found == 0 and not rep.labelled_synthetic


def test_interrupted_swap_leaves_no_partial_output(clip: Path, tmp_path: Path) -> None:
    from deepfake_lab.pipelines.swap_video import swap_media

    def stop(done: int, total: int | None) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        swap_media(clip, SWAP_MODEL, tmp_path / "out.mp4", on_frame=stop)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its hidden temporary file


def test_swap_refuses_an_unlabelable_format_up_front(clip: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mkv"
    code, _, err = run_cli(["swap", clip, "--model", SWAP_MODEL, "-o", out, "-q"], capsys)
    assert code == 2 and err.startswith("error:") and "--no-provenance" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_inspect_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["provenance", "inspect", tmp_path / "missing.png"], capsys)
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    code, _, err = run_cli(["provenance", "inspect", junk], capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
