"""Every detector: the output contract, forward/backward, bf16, export round trip; frequency detectors fit."""

from __future__ import annotations

import pytest
import torch

from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.detection import roc_auc
from deepfake_lab.models.catalogue import create_model, list_models
from deepfake_lab.models.detectors import CNN_DETECTORS, FREQUENCY_DETECTORS
from deepfake_lab.models.detectors.frequency import dct_matrix, zigzag_order
from deepfake_lab.train.checkpoint import export_model, load_exported
from support.realfake_toy import make_toy


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # tiny nets: 2 OpenMP threads only lose (badly, on a shared 2-vCPU machine)


# small but faithful settings so that every net runs in well under a second on 2 CPUs
SMALL = {
    "meso4": {"image_size": 64},
    "meso-inception4": {"image_size": 64},
    "xception": {"image_size": 64, "width": 8},
    "efficientnet-b0": {"image_size": 64, "width": 0.25, "depth": 0.5, "head_channels": 128},
    "resnet18": {"image_size": 64, "width": 8, "small_stem": True},
    "mobilenet-v2": {"image_size": 64},
    "efficientnet-lite0": {"image_size": 64},
    "spectrum-lr": {"n_bins": 16},
    "dct-lr": {},
}


def _fitted(name: str, **kw) -> torch.nn.Module:
    model = create_model(name, **{**SMALL[name], **kw})
    if name in FREQUENCY_DETECTORS:
        x, y = make_toy(32, 32)
        model.fit(x, y)
    return model


def test_detector_family_is_complete():
    assert set(CNN_DETECTORS) | set(FREQUENCY_DETECTORS) == set(list_models("detector"))


@pytest.mark.parametrize("name", list_models("detector"))
def test_output_contract_and_backward(name):
    model = _fitted(name)
    x = torch.rand(3, 3, 64, 64, requires_grad=True)
    out = model(x)
    assert set(out) == {"logits", "probs", "features"}
    assert out["logits"].shape == (3,) and out["probs"].shape == (3,)
    assert out["features"].dim() == 2 and out["features"].shape[0] == 3
    torch.testing.assert_close(out["probs"], torch.sigmoid(out["logits"]))
    assert ((out["probs"] >= 0) & (out["probs"] <= 1)).all()
    out["logits"].sum().backward()
    params = [p for p in model.parameters() if p.requires_grad]
    if name in FREQUENCY_DETECTORS:  # buffers only, fitted in closed form; the input still gets a gradient
        assert not params
    else:
        assert all(p.grad is not None for p in params)
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", list_models("detector"))
def test_other_input_sizes_and_bf16(name):
    model = _fitted(name).eval()
    for size in (48, 80):
        assert model(torch.rand(2, 3, size, size))["probs"].shape == (2,)
    x = torch.rand(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert torch.isfinite(out["logits"].float()).all()
    ref = model(x.contiguous())["probs"]
    assert (out["probs"].float() - ref).abs().max() < 0.1


@pytest.mark.parametrize("name", ["meso4", "spectrum-lr", "dct-lr"])
def test_export_round_trip(tmp_path, name):
    model = _fitted(name).eval()
    export_model(model, tmp_path, model_name=name, model_kwargs=SMALL[name], family="detector")
    loaded, card = load_exported(tmp_path)
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x)["logits"], model(x)["logits"])
    assert card["family"] == "detector"


def test_normalisation_comes_from_kwargs():
    torch.manual_seed(0)
    a = create_model("meso4", image_size=32, mean=[0.5], std=[0.5]).eval()
    b = create_model("meso4", image_size=32, mean=[0.0], std=[1.0]).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(a(x)["logits"], b((x - 0.5) / 0.5)["logits"])
    with pytest.raises(BadInputError):
        create_model("meso4", std=[0.0])
    with pytest.raises(BadInputError):
        create_model("xception", width=0)


def test_meso4_matches_the_paper_at_256():
    model = create_model("meso4")
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 27_000 < n < 29_000  # Afchar 2018: 27,977 trainable parameters
    assert model.fc[2].in_features == 16 * 8 * 8  # 256 / 32 = 8×8 grid of 16 channels


def test_dct_matrix_is_orthonormal_and_zigzag_starts_like_jpeg():
    d = dct_matrix(8)
    torch.testing.assert_close(d @ d.T, torch.eye(8), atol=1e-5, rtol=0)
    assert zigzag_order(8)[:6].tolist() == [0, 1, 8, 16, 9, 2]
    assert sorted(zigzag_order(8).tolist()) == list(range(64))


@pytest.mark.parametrize("name", FREQUENCY_DETECTORS)
def test_frequency_detector_separates_upsampling_artefacts(name):
    x_train, y_train = make_toy(150, 32, seed=0)
    x_test, y_test = make_toy(100, 32, seed=1)
    model = create_model(name).fit(x_train, y_train)
    p = model(x_test.float() / 255)["probs"]
    assert roc_auc(y_test.numpy(), p.detach().numpy()) > 0.9


def test_frequency_fit_needs_both_classes():
    x, _ = make_toy(8, 32)
    with pytest.raises(ValueError, match="both"):
        create_model("spectrum-lr").fit(x, torch.zeros(len(x), dtype=torch.long))
