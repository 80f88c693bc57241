"""The unCLIP decoder (Ramesh et al. 2022, §2.1): a GLIDE-style diffusion UNet at 32 px that
inverts CLIP's image embedding.

Conditioning, as the paper describes it:
* the CLIP image embedding is projected and added to the timestep embedding, and projected
  into ``clip_tokens`` (4) extra context tokens;
* the caption goes through the decoder's own text transformer (GLIDE's); its token features
  are the rest of the attention context, its pooled feature joins the timestep embedding.
For classifier-free guidance, training drops the image embedding (replaced by a learned null
vector) 10% of the time and the caption (replaced by the empty caption) 50% of the time.

With ``caption_clip_dim`` > 0 the decoder also reads the caption through a second CLIP (its text
embedding, ``caption_embed``; the empty caption's where the caption is dropped): a projection of it
is added to the conditioning vector and to the image embedding's context tokens. Both projections
start at zero (``widen``), so a decoder fine-tuned this way starts as the one it came
from. The CLIP that reads the captions is named in the model's config.json ("caption_clip").

With ``layout=True`` the UNet also takes a layout's maps (promptism.layout: each object's box in
a channel for its colour and one for its shape) as input channels, after the inpainting ones; all
zero means "no layout", which training shows it in a share of its pictures, so variations and edits
(which have no layout) still work. The layout stage that draws them at generation is named in
config.json ("layout").

With ``inpaint=True`` the UNet takes four more input channels, as GLIDE's and DALL·E 2's
inpainting models do (Nichol et al. 2022, §4; Ramesh et al. 2022, §3): the known picture with
its unknown part zeroed, and the mask of what is known (1 = keep). With nothing known (the
default) it is a plain decoder, so one network serves text-to-image and inpainting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from ..layout.model import CHANNELS
from ..nn.text import CaptionEncoder
from ..nn.unet import UNet, UNetConfig
from .task_config import PLAIN_SHARE


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
    inpaint: bool = False  # 4 more input channels: the known picture (zeroed where unknown) and its mask
    caption_clip_dim: int = 0  # > 0: the caption's text embedding by a second CLIP is an input too
    layout: bool = False  # LAYOUT_CHANNELS more input channels: where each object goes (promptism.layout)

    def __post_init__(self):
        if isinstance(self.unet, dict):
            object.__setattr__(self, "unet", UNetConfig(**self.unet))
        want = dict(
            cond_dim=self.clip_dim + self.text_width,
            context_dim=self.text_width,
            in_channels=input_channels(self.inpaint, self.layout),
            out_channels=3,
        )
        wrong = {k: getattr(self.unet, k) for k, v in want.items() if getattr(self.unet, k) != v}
        if wrong:
            raise ValueError(f"the decoder's UNet needs {want}; got {wrong}")

    @classmethod
    def build(cls, unet: dict, **kw) -> DecoderConfig:
        """Fill in the UNet fields that follow from the decoder's own."""
        clip_dim, width = kw.get("clip_dim", cls.clip_dim), kw.get("text_width", cls.text_width)
        in_channels = input_channels(bool(kw.get("inpaint", False)), bool(kw.get("layout", False)))
        return cls(
            unet=UNetConfig(**{**unet, "cond_dim": clip_dim + width, "context_dim": width, "in_channels": in_channels}),
            **kw,
        )

    def plain(self) -> DecoderConfig:
        """The same decoder without the inpainting channels."""
        return replace(self, inpaint=False, unet=replace(self.unet, in_channels=input_channels(False, self.layout)))

    def to_dict(self) -> dict:
        return asdict(self)


INPAINT_CHANNELS = 4  # RGB of the known picture + the keep mask
LAYOUT_CHANNELS = CHANNELS  # one per colour and one per shape, each object's box painted in


def input_channels(inpaint: bool, layout: bool) -> int:
    """The UNet's input channels: the noisy picture, then the inpainting channels, then the layout's."""
    return 3 + INPAINT_CHANNELS * inpaint + LAYOUT_CHANNELS * layout


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.config = cfg
        self.text = CaptionEncoder(cfg.vocab_size, cfg.context, cfg.text_width, cfg.text_layers, cfg.text_heads)
        self.null_image = nn.Parameter(torch.zeros(cfg.clip_dim))
        self.clip_to_tokens = nn.Linear(cfg.clip_dim, cfg.clip_tokens * cfg.text_width)
        if cfg.caption_clip_dim:
            self.caption_to_cond = nn.Linear(cfg.caption_clip_dim, cfg.clip_dim + cfg.text_width)
            self.caption_to_tokens = nn.Linear(cfg.caption_clip_dim, cfg.clip_tokens * cfg.text_width)
            for layer in (self.caption_to_cond, self.caption_to_tokens):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.unet = UNet(cfg.unet)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        image_embed: torch.Tensor,
        ids: torch.Tensor,
        mask: torch.Tensor,
        drop_image: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
        caption_embed: torch.Tensor | None = None,
        layout: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # x: (B, 3, S, S) noisy picture; t: (B,); image_embed: (B, D) unit CLIP embeddings;
        # ids, mask: (B, L) caption tokens (an empty caption where text is dropped);
        # drop_image: (B,) bool, True where the image embedding is replaced by the null vector;
        # known: (B, 3, S, S) picture in [-1, 1] and keep: (B, 1, S, S) in {0, 1}, 1 where known
        # (inpainting decoders only; nothing known when left out); caption_embed: (B, C) the caption's
        # unit text embedding by the caption CLIP (decoders with caption_clip_dim only); layout: (B,
        # LAYOUT_CHANNELS, S, S) maps (layout decoders only; all zero, "no layout", when left out)
        b = x.shape[0]
        if self.config.inpaint:
            x = torch.cat(inpaint_input(x, known, keep), 1)
        elif known is not None or keep is not None:
            raise ValueError("this decoder has no inpainting channels (config.inpaint is False)")
        if self.config.layout:
            maps = x.new_zeros(b, LAYOUT_CHANNELS, *x.shape[2:]) if layout is None else layout.to(x.dtype)
            x = torch.cat([x, maps.expand(b, -1, -1, -1)], 1)
        elif layout is not None:
            raise ValueError("this decoder reads no layout (config.layout is False)")
        emb = image_embed * self.config.clip_dim**0.5  # unit length -> unit variance per dimension
        if drop_image is not None:
            emb = torch.where(drop_image[:, None], self.null_image.expand(b, -1), emb)
        tokens, pooled = self.text(ids, mask)  # (B, L, W), (B, W)
        extra = self.clip_to_tokens(emb)  # (B, 4 * W)
        cond = torch.cat([emb, pooled], -1)
        if self.config.caption_clip_dim:
            if caption_embed is None:
                raise ValueError("this decoder reads the caption's caption-CLIP embedding too: give caption_embed")
            cap = caption_embed * self.config.caption_clip_dim**0.5
            extra, cond = extra + self.caption_to_tokens(cap), cond + self.caption_to_cond(cap)
        elif caption_embed is not None:
            raise ValueError("this decoder reads no caption-CLIP embedding (config.caption_clip_dim is 0)")
        context = torch.cat([tokens, extra.view(b, self.config.clip_tokens, -1)], 1)
        context_mask = torch.cat([mask, torch.ones(b, self.config.clip_tokens, dtype=torch.bool, device=x.device)], 1)
        return self.unet(x, t, cond=cond, context=context, context_mask=context_mask)


def inpaint_input(x: torch.Tensor, known: torch.Tensor | None, keep: torch.Tensor | None) -> list[torch.Tensor]:
    """[x, known picture zeroed where unknown, keep mask]; nothing known when keep is None."""
    if keep is None:
        return [x, torch.zeros_like(x), torch.zeros_like(x[:, :1])]
    keep = keep.to(x.dtype).expand(x.shape[0], 1, *x.shape[2:])
    return [x, known.to(x.dtype).expand_as(x) * keep, keep]


def widens(start: DecoderConfig, cfg: DecoderConfig) -> bool:
    """Whether ``cfg`` is ``start`` with inputs added and nothing else changed: the inpainting
    channels, the layout channels, a caption CLIP's embedding, the coordinate channels. New input
    channels must come after the old ones (inpainting, then layout, then coordinates), so a start
    with coordinates cannot gain the inpainting or layout channels, nor one with a layout the
    inpainting channels."""
    if cfg == start or start.caption_clip_dim not in (0, cfg.caption_clip_dim):
        return False
    held = (start.inpaint, start.layout, start.unet.coords)  # the input blocks, in channel order
    wanted = (cfg.inpaint, cfg.layout, cfg.unet.coords)
    if any(a and not b for a, b in zip(held, wanted)):  # an input dropped
        return False
    if any(b and not a and any(held[i + 1 :]) for i, (a, b) in enumerate(zip(held, wanted))):
        return False  # a new block would go before one already there
    same = replace(
        cfg,
        inpaint=start.inpaint,
        layout=start.layout,
        caption_clip_dim=start.caption_clip_dim,
        unet=replace(cfg.unet, in_channels=start.unet.in_channels, coords=start.unet.coords),
    )
    return same == start


def widen(model: Decoder, state: dict[str, torch.Tensor]) -> Decoder:
    """Load the weights of a decoder into ``model``, the same decoder with inputs added (``widens``):
    the new input channels' weights and the caption projections start at zero, so it begins as
    exactly the decoder it came from (GLIDE fine-tunes its inpainting model from the base model the
    same way)."""
    state = dict(state)
    w = state["unet.conv_in.weight"]
    want = model.unet.conv_in.weight.shape[1]
    if w.shape[1] < want:  # pixel_unshuffle keeps each input channel's u² sub-pixels together, in order
        wide = torch.zeros(w.shape[0], want, *w.shape[2:], dtype=w.dtype)
        wide[:, : w.shape[1]] = w
        state["unet.conv_in.weight"] = wide
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape
        raise ValueError(f"not the same decoder but for added inputs: {e}") from None
    new = {k for k in model.state_dict() if k.startswith(("caption_to_cond.", "caption_to_tokens."))}
    if unexpected or set(missing) not in (set(), new):
        raise ValueError(f"not the same decoder but for added inputs: missing {missing}, unexpected {unexpected}")
    return model


def random_keep_masks(n: int, size: int, generator: torch.Generator, p_plain: float = PLAIN_SHARE) -> torch.Tensor:
    """(n, 1, size, size) training masks, 1 = known: a share ``p_plain`` with nothing known (plain
    generation); the rest hide a random box (inpainting), keep only a random box (outpainting),
    or hide a strip along one edge."""
    keep = torch.ones(n, 1, size, size)
    kind = torch.rand(n, generator=generator)
    r = torch.rand(n, 6, generator=generator)
    for i in range(n):
        k, (a, b, c, d, e, f) = float(kind[i]), r[i].tolist()
        if k < p_plain:
            keep[i] = 0
        elif k < p_plain + (1 - p_plain) * 0.55:  # hide a box of 20–80% of each side
            h, w = int(size * (0.2 + 0.6 * a)), int(size * (0.2 + 0.6 * b))
            y, x = int((size - h) * c), int((size - w) * d)
            keep[i, :, y : y + h, x : x + w] = 0
        elif k < p_plain + (1 - p_plain) * 0.8:  # keep only a box of 40–80% of each side
            h, w = int(size * (0.4 + 0.4 * a)), int(size * (0.4 + 0.4 * b))
            y, x = int((size - h) * c), int((size - w) * d)
            keep[i] = 0
            keep[i, :, y : y + h, x : x + w] = 1
        else:  # hide a strip of 25–60% along one edge
            m = int(size * (0.25 + 0.35 * e))
            side = int(f * 4) % 4
            region = [
                (slice(None), slice(0, m)),
                (slice(None), slice(size - m, None)),
                (slice(0, m), slice(None)),
                (slice(size - m, None), slice(None)),
            ][side]
            keep[i, :, region[0], region[1]] = 0
    return keep
