"""Media in and out with PyAV: streaming readers (videos, image sequences, stills; live streams and capture
devices in `live`), background frame feeds (`feed`: prefetch, realtime pacing) and an H.264 writer that keeps
the source's audio."""

from deepfake_lab.video.feed import Prefetcher, RealtimeFeed
from deepfake_lab.video.image import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    image_size,
    is_image_path,
    read_image,
)
from deepfake_lab.video.live import LiveReader, is_live_source
from deepfake_lab.video.reader import (
    Frame,
    ImageSequenceReader,
    MediaInfo,
    MediaReader,
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
    "LiveReader",
    "MediaInfo",
    "MediaReader",
    "Prefetcher",
    "RealtimeFeed",
    "VideoReader",
    "VideoWriter",
    "image_size",
    "is_image_path",
    "is_live_source",
    "natural_key",
    "open_media",
    "probe",
    "read_image",
]
