"""Verdict names and the default limits under which a face is not scored (torch-free, so the CLI's help can
name them without importing the scanner)."""

from __future__ import annotations

FILE_VERDICTS = ("authentic", "uncertain", "manipulated", "not_evaluated", "no_face", "error")
"""Verdicts of a file (and, but for no_face/error, of a track)."""
NOT_EVALUATED_REASONS = ("face_too_small", "face_too_blurry", "too_few_frames")
"""Why a face, track or file has no score: see `ScanOptions.min_face_size`, `min_sharpness`, `min_frames`."""
MIN_FACE_SIZE = 32.0
"""Faces whose landmark box is smaller than this (longer side, source pixels) are not scored."""
MIN_SHARPNESS = 25.0
"""Aligned crops blurrier than this (`faces.quality.blur_score`) are not scored."""
MIN_FRAMES = 5
"""A video with fewer frames holding a scored face is not_evaluated."""
