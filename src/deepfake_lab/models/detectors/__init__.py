"""Detection: the detector family. Importing this module registers every variant.

All detectors share one output contract (see `base.py`): forward(x [B, 3, H, W] in [0, 1]) ->
{"logits": [B], "probs": [B] (probability of FAKE), "features": [B, F]}.
"""

from deepfake_lab.models.detectors import (  # noqa: F401
    efficientnet,
    efficientnet_lite,
    frequency,
    meso,
    mobilenet,
    resnet,
    xception,
)
from deepfake_lab.models.detectors.efficientnet import EfficientNetDetector
from deepfake_lab.models.detectors.efficientnet_lite import EfficientNetLite0Detector
from deepfake_lab.models.detectors.frequency import DCTDetector, FrequencyDetector, SpectrumDetector
from deepfake_lab.models.detectors.meso import MesoNet
from deepfake_lab.models.detectors.mobilenet import MobileNetV2Detector
from deepfake_lab.models.detectors.resnet import ResNetDetector
from deepfake_lab.models.detectors.xception import XceptionDetector

CNN_DETECTORS = (
    "meso4",
    "meso-inception4",
    "xception",
    "efficientnet-b0",
    "efficientnet-lite0",
    "resnet18",
    "mobilenet-v2",
)
FREQUENCY_DETECTORS = ("spectrum-lr", "dct-lr")

__all__ = [
    "CNN_DETECTORS",
    "FREQUENCY_DETECTORS",
    "DCTDetector",
    "EfficientNetDetector",
    "EfficientNetLite0Detector",
    "FrequencyDetector",
    "MesoNet",
    "MobileNetV2Detector",
    "ResNetDetector",
    "SpectrumDetector",
    "XceptionDetector",
]
