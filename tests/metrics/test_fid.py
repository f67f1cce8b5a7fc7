"""FID/KID: known answers on Gaussians (closed form), identical sets, the standard preprocessing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepfake_lab.errors import MissingDataError
from deepfake_lab.metrics.fid_kid import (
    feature_stats,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    preprocess,
)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _closed_form(mu1, s1, mu2, s2) -> float:
    """W2² between Gaussians in the symmetric form tr(Σ1 + Σ2 - 2 (Σ1^½ Σ2 Σ1^½)^½)."""
    r = _sqrtm_psd(s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _sqrtm_psd(r @ s2 @ r)))


def test_frechet_distance_closed_forms() -> None:
    # 1-D: (m1 - m2)² + (σ1 - σ2)²
    assert frechet_distance(
        np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])
    ) == pytest.approx(9 + 1)
    # diagonal: Σ_i (a_i + b_i - 2 sqrt(a_i b_i))
    a, b = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 0.25])
    expected = 3.0 + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b)) == pytest.approx(expected)
    # full, non-commuting covariances against the symmetric formula
    rng = np.random.default_rng(0)
    for d in (2, 16, 64):
        mu1, mu2, s1, s2 = rng.normal(size=d), rng.normal(size=d), _spd(rng, d), _spd(rng, d)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=1e-6)
        assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_gaussian_samples_approaches_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    d = 4
    mu1, mu2, s1, s2 = np.zeros(d), np.full(d, 0.5), _spd(rng, d), _spd(rng, d)
    x = rng.multivariate_normal(mu1, s1, size=40000)
    y = rng.multivariate_normal(mu2, s2, size=40000)
    assert fid_from_features(x, y) == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=0.03)
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)
    mu, sigma = feature_stats(x)
    assert np.allclose(mu, mu1, atol=0.03) and np.allclose(sigma, s1, atol=0.05)


def test_kid_matches_a_direct_unbiased_mmd_and_detects_shift() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.3

    def k(a, b):
        return (a @ b / 5 + 1) ** 3

    m = 30
    direct = (
        sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        + sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        - 2 * sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    )
    kid, std = kid_from_features(x, y, n_subsets=1, subset_size=m)
    assert kid == pytest.approx(direct, rel=1e-10) and std == 0
    same = kid_from_features(
        rng.normal(size=(500, 5)), rng.normal(size=(500, 5)), n_subsets=20, subset_size=200
    )
    shifted = kid_from_features(
        rng.normal(size=(500, 5)), rng.normal(size=(500, 5)) + 1, n_subsets=20, subset_size=200
    )
    assert abs(same[0]) < 0.05 < shifted[0]


def test_preprocess_quantises_resizes_and_scales() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 1, 28, 28)
    q = (x * 255).round() / 255
    p = preprocess(x)
    assert p.shape == (3, 3, 299, 299)
    assert torch.equal(p, preprocess(q))  # floats are quantised to uint8 first
    assert torch.equal(p, preprocess((x * 255).round().to(torch.uint8)))
    assert torch.equal(p[:, 0], p[:, 1]) and torch.equal(p[:, 1], p[:, 2])  # grey -> 3 channels
    full = preprocess(torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 299, 299))
    assert float(full.min()) == -1.0 and float(full.max()) == pytest.approx(0.9921875)


@pytest.fixture(scope="module")
def inception():
    from deepfake_lab.metrics.fid_kid import InceptionFeatures

    try:
        return InceptionFeatures(batch_size=16)
    except MissingDataError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_inception_fid_known_answers(inception) -> None:
    """pool3 features are 2048-d, non-negative; identical sets give FID 0; trousers vs bags is far."""
    from deepfake_lab.data.datasets import load_dataset

    ds = load_dataset("fashion-mnist", "test")
    trousers = ds.images[ds.labels == 1]
    bags = ds.images[ds.labels == 8]
    f_a, f_b, f_c = inception(trousers[:12]), inception(trousers[12:24]), inception(bags[:12])
    assert f_a.shape == (12, 2048) and (f_a >= 0).all()
    assert fid_from_features(f_a, f_a) == pytest.approx(0.0, abs=1e-3)
    same_class, other_class = fid_from_features(f_a, f_b), fid_from_features(f_a, f_c)
    assert other_class > 1.5 * same_class, (same_class, other_class)
    # uint8 images and their float [0, 1] versions give the same features
    assert np.allclose(inception(trousers[:4].float() / 255), f_a[:4], atol=1e-4)


@pytest.mark.slow
def test_eval_gen_writes_fid_and_kid_to_the_run(tmp_path, inception, train_quick) -> None:
    from deepfake_lab.cli import main

    trainer, result = train_quick("gan-mlp", steps=5, data="digits")
    with pytest.raises(SystemExit) as exit_info:
        main(["eval-gen", str(result.run_dir), "--n", "16", "--batch-size", "16"])
    assert exit_info.value.code == 0
    last = json.loads((result.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["eval"] == "eval-gen" and last["fid_n_fake"] == 16 and last["fid_n_real"] == 16
    assert last["fid"] > 0 and np.isfinite(last["kid"])
