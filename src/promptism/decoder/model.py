"""The unCLIP decoder (Ramesh et al. 2022, §2.1): a GLIDE-style diffusion UNet at 32 px that
inverts CLIP's image embedding.

Conditioning, as the paper describes it:
* the CLIP image embedding is projected and added to the timestep embedding, and projected
  into ``clip_tokens`` (4) extra context tokens;
* the caption goes through the decoder's own text transformer (GLIDE's); its token features
  are the rest of the attention context, its pooled feature joins the timestep embedding.
For classifier-free guidance, training drops the image embedding (replaced by a learned null
vector) 10% of the time and the caption (replaced by the empty caption) 50% of the time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..nn.text import CaptionEncoder
from ..nn.unet import UNet, UNetConfig


@dataclass(frozen=True)
class DecoderConfig:
    image_size: int = 32
    clip_dim: int = 256
    vocab_size: int = 512
    context: int = 28
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    clip_tokens: int = 4
    unet: UNetConfig = field(default_factory=UNetConfig)

    def __post_init__(self):
        if isinstance(self.unet, dict):
            object.__setattr__(self, "unet", UNetConfig(**self.unet))
        want = dict(cond_dim=self.clip_dim + self.text_width, context_dim=self.text_width, in_channels=3, out_channels=3)
        wrong = {k: getattr(self.unet, k) for k, v in want.items() if getattr(self.unet, k) != v}
        if wrong:
            raise ValueError(f"the decoder's UNet needs {want}; got {wrong}")

    @classmethod
    def build(cls, unet: dict, **kw) -> "DecoderConfig":
        """Fill in the UNet fields that follow from the decoder's own."""
        clip_dim, width = kw.get("clip_dim", cls.clip_dim), kw.get("text_width", cls.text_width)
        return cls(unet=UNetConfig(**{**unet, "cond_dim": clip_dim + width, "context_dim": width}), **kw)

    def to_dict(self) -> dict:
        return asdict(self)


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.config = cfg
        self.text = CaptionEncoder(cfg.vocab_size, cfg.context, cfg.text_width, cfg.text_layers, cfg.text_heads)
        self.null_image = nn.Parameter(torch.zeros(cfg.clip_dim))
        self.clip_to_tokens = nn.Linear(cfg.clip_dim, cfg.clip_tokens * cfg.text_width)
        self.unet = UNet(cfg.unet)

    def forward(self, x: torch.Tensor, t: torch.Tensor, image_embed: torch.Tensor, ids: torch.Tensor,
                mask: torch.Tensor, drop_image: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, 3, S, S) noisy picture; t: (B,); image_embed: (B, D) unit CLIP embeddings;
        # ids, mask: (B, L) caption tokens (an empty caption where text is dropped);
        # drop_image: (B,) bool, True where the image embedding is replaced by the null vector
        b = x.shape[0]
        emb = image_embed * self.config.clip_dim ** 0.5  # unit length -> unit variance per dimension
        if drop_image is not None:
            emb = torch.where(drop_image[:, None], self.null_image.expand(b, -1), emb)
        tokens, pooled = self.text(ids, mask)  # (B, L, W), (B, W)
        extra = self.clip_to_tokens(emb).view(b, self.config.clip_tokens, -1)  # (B, 4, W)
        context = torch.cat([tokens, extra], 1)
        context_mask = torch.cat([mask, torch.ones(b, self.config.clip_tokens, dtype=torch.bool, device=x.device)], 1)
        return self.unet(x, t, cond=torch.cat([emb, pooled], -1), context=context, context_mask=context_mask)
