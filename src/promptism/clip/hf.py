"""transformers' CLIP behind the same API as ours (``promptism.clip.load("hf:...")``).

A user online can plug in OpenAI's ViT-L/14 (``hf:openai/clip-vit-large-patch14``); offline,
any folder written by ``CLIPModel.save_pretrained`` plus a tokenizer works. Pixels are
resized to the vision tower's size and normalised with the folder's image-processor mean and
std (OpenAI's when it has none); no torchvision is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from ..errors import PromptismError
from .api import ClipBase

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class HFClip(ClipBase):
    def __init__(self, model, tokenizer, mean=OPENAI_MEAN, std=OPENAI_STD, name: str = "hf"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.image_size = model.config.vision_config.image_size
        self.context = getattr(model.config.text_config, "max_position_embeddings", 77)
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp().clamp(max=100.0))

    def _tokens(self, texts: Sequence[str]):
        enc = self.tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=self.context, return_tensors="pt"
        )
        return enc["input_ids"], enc["attention_mask"]

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        ids, mask = self._tokens(texts)
        out = self.model.text_model(input_ids=ids, attention_mask=mask)
        return torch.nn.functional.normalize(self.model.text_projection(out.pooler_output), dim=-1)

    @torch.no_grad()
    def text_features(self, texts: Sequence[str]):
        ids, mask = self._tokens(texts)
        out = self.model.text_model(input_ids=ids, attention_mask=mask)
        pooled = torch.nn.functional.normalize(self.model.text_projection(out.pooler_output), dim=-1)
        return out.last_hidden_state, mask.bool(), pooled

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        x = ((pixels + 1.0) / 2.0 - self.mean) / self.std  # [-1, 1] -> the processor's normalisation
        out = self.model.vision_model(pixel_values=x)
        return torch.nn.functional.normalize(self.model.visual_projection(out.pooler_output), dim=-1)


def load_hf(name_or_path: str) -> HFClip:
    try:
        from transformers import AutoTokenizer, CLIPModel
    except ImportError as e:  # pragma: no cover
        raise PromptismError("the hf: backend needs the transformers package") from e
    try:
        model = CLIPModel.from_pretrained(name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:
        raise PromptismError(f"cannot load transformers' CLIP from {name_or_path!r}: {e}") from e
    mean, std = OPENAI_MEAN, OPENAI_STD
    proc = Path(name_or_path) / "preprocessor_config.json"
    if proc.exists():
        cfg = json.loads(proc.read_text())
        mean, std = tuple(cfg.get("image_mean", mean)), tuple(cfg.get("image_std", std))
    return HFClip(model, tokenizer, mean, std, name=f"hf:{name_or_path}")
