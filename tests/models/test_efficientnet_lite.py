"""EfficientNet-Lite0 detector: the output contract, the checkpoint's parameter names and shapes, and the real
ImageNet weights of the `efficientnet-lite0-imagenet` item (matplotlib's Grace Hopper photo is a "military uniform",
ImageNet class 652, the classic check of these weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_lab.models.catalogue import create_model


def test_contract_and_heatmap_head() -> None:
    m = create_model("efficientnet-lite0", image_size=64, mask_head=True).eval()
    out = m(torch.rand(2, 3, 64, 64))
    assert out["probs"].shape == (2,) and out["features"].shape == (2, 1280) and out["mask"].shape == (2, 1, 4, 4)
    assert torch.all((out["probs"] > 0) & (out["probs"] < 1))
    assert "mask" not in create_model("efficientnet-lite0", image_size=64)(torch.rand(1, 3, 64, 64))


def test_backbone_names_and_shapes_are_the_checkpoints() -> None:
    st = create_model("efficientnet-lite0").backbone.state_dict()
    # 296 tensors in the checkpoint, its classifier (_fc.weight, _fc.bias) not among them
    assert len(st) == 294 and not any(k.startswith("_fc") for k in st)
    assert st["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert st["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3) and "_blocks.0._expand_conv.weight" not in st
    assert st["_blocks.3._depthwise_conv.weight"].shape == (144, 1, 5, 5)
    assert st["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert st["_conv_head.weight"].shape == (1280, 320, 1, 1)


def test_imagenet_weights_load_and_recognise_a_uniform() -> None:
    from deepfake_lab.data.fetch import sample_file
    from deepfake_lab.errors import MissingDataError
    from deepfake_lab.train.pretrained import backbone_state, load_pretrained_backbone

    m = create_model("efficientnet-lite0", image_size=224)
    try:
        msg = load_pretrained_backbone(m, "efficientnet-lite0-imagenet")
        photo = sample_file("matplotlib", "grace_hopper.jpg")
    except MissingDataError:
        pytest.skip("efficientnet-lite0-imagenet or matplotlib not fetched (`deepfake-lab data fetch`)")
    assert msg.startswith("backbone: 294 tensors")
    fc = backbone_state(sample_file("efficientnet-lite0-imagenet", "efficientnet-lite0-57934424.pth"), "_fc.")
    img = Image.open(photo).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        logits = m.eval()(x)["features"] @ fc["weight"].T + fc["bias"]
    assert int(logits.argmax()) == 652  # "military uniform": Grace Hopper in her US Navy uniform
