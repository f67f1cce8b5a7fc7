"""Media in and out with PyAV: streaming readers (videos, image sequences, stills) and an H.264 writer that
keeps the source's audio."""

from deepfake_lab.video.image import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    image_size,
    is_image_path,
    read_image,
)
from deepfake_lab.video.reader import (
    Frame,
    ImageSequenceReader,
    MediaInfo,
    MediaReader,
    Prefetcher,
    VideoReader,
    natural_key,
    open_media,
    probe,
)
from deepfake_lab.video.writer import VideoWriter

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "Frame",
    "ImageSequenceReader",
    "MediaInfo",
    "MediaReader",
    "Prefetcher",
    "VideoReader",
    "VideoWriter",
    "image_size",
    "is_image_path",
    "natural_key",
    "open_media",
    "probe",
    "read_image",
]
