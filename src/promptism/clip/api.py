"""What every CLIP backend offers, written once over two methods a backend supplies:
``encode_text(texts)`` and ``encode_image(pixels)`` (both normalised embeddings)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import PromptismError


class ClipBase:
    image_size: int = 64

    # --- supplied by a backend ---------------------------------------------------------------
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:  # (N, D), unit length
        raise NotImplementedError

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) in [-1, 1] -> (N, D)
        raise NotImplementedError

    def text_features(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token features (N, L, W), their mask (N, L), and the pooled embedding (N, D)."""
        raise NotImplementedError

    def logit_scale(self) -> float:
        """The learned inverse temperature that turns cosines into logits (CLIP's upper bound, 100,
        for a backend that has none)."""
        return 100.0

    # --- shared ----------------------------------------------------------------------------------
    def pixels(self, images) -> torch.Tensor:
        """PIL images, (N, H, W, 3) uint8 arrays or a (N, 3, H, W) tensor in [-1, 1] -> model input."""
        if isinstance(images, torch.Tensor):
            return images.float()
        if isinstance(images, (Image.Image, np.ndarray)) and not (isinstance(images, np.ndarray) and images.ndim == 4):
            images = [images]
        arrs = []
        for im in images:
            if isinstance(im, np.ndarray):
                im = Image.fromarray(im.astype(np.uint8))
            if not isinstance(im, Image.Image):
                raise PromptismError(f"expected pictures (PIL images or uint8 arrays), got {type(im).__name__}")
            im = im.convert("RGB")
            if im.size != (self.image_size, self.image_size):
                im = im.resize((self.image_size, self.image_size), Image.BICUBIC)
            arrs.append(np.asarray(im))
        if not arrs:
            raise PromptismError("no pictures given")
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

    @torch.no_grad()
    def encode_image(self, images, batch_size: int = 256) -> torch.Tensor:
        px = self.pixels(images)
        return torch.cat([self._encode_pixels(px[i : i + batch_size]) for i in range(0, len(px), batch_size)])

    @torch.no_grad()
    def score(self, images, texts: Sequence[str]) -> torch.Tensor:
        """Cosine similarity of every picture with every text: (N images, M texts)."""
        if isinstance(texts, str):
            texts = [texts]
        return self.encode_image(images) @ self.encode_text(texts).T

    @torch.no_grad()
    def zero_shot(self, images, labels: Sequence[str], templates: Sequence[str] = ("{}",)) -> torch.Tensor:
        """Probabilities over labels (N, L). Each label's text embedding is the mean over
        templates (CLIP's prompt ensembling), e.g. templates=("a red {}", "a blue {}")."""
        if not labels:
            raise PromptismError("zero-shot needs at least one label")
        embs = []
        for label in labels:
            e = self.encode_text([t.format(label) for t in templates]).mean(0)
            embs.append(e / e.norm())
        logits = 100.0 * self.encode_image(images) @ torch.stack(embs).T
        return logits.softmax(dim=-1)

    @torch.no_grad()
    def rerank(self, images, prompt: str) -> tuple[list[int], torch.Tensor]:
        """Order pictures by how well they fit a prompt, best first: (order, scores)."""
        s = self.score(images, [prompt])[:, 0]
        return torch.argsort(s, descending=True).tolist(), s
