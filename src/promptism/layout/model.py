"""The layout stage: a caption -> the objects a picture of it holds, each a colour, shape, size and
place; and those objects as the maps a layout decoder reads.

Text-to-layout as a sequence (LayoutTransformer, Gupta et al. 2021; LayoutGPT, Feng et al. 2023):
one causal transformer (DALL·E mini's block) reads the caption's tokens and then writes the objects
as tokens, five per object (colour, shape, size, the centroid's x bin, its y bin), in the order the
caption names them, ending with END. Each output position is told which object and which field it
writes. Sampling draws each token among those of its field, so every sample is a well-formed
layout.

The maps (``layout_maps``) paint each object's bounding box into one channel for its colour and one
for its shape: ``CHANNELS`` channels, zero where no object is, all zero for "no layout". A decoder
trained with them (``DecoderConfig.layout``) draws its objects where the boxes are; GLIGEN (Li et
al. 2023) conditions on boxes the same way, through attention instead of input channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..mini.model import Block
from ..world import vocab

COLORS, SHAPES, SIZES = tuple(vocab.COLORS), tuple(vocab.SHAPES), tuple(vocab.SIZES)
CHANNELS = len(COLORS) + len(SHAPES)  # a layout map's channels: one per colour, one per shape
FIELDS = ("color", "shape", "size", "x", "y")  # the tokens of one object, in order
END = 0


@dataclass(frozen=True)
class LayoutConfig:
    text_vocab: int = 512
    context: int = 28  # caption tokens, padded
    width: int = 128
    layers: int = 4
    heads: int = 4
    max_objects: int = vocab.MAX_OBJECTS
    bins: int = 16  # of a centroid's x and of its y, over the canvas
    dropout: float = 0.0

    @property
    def field_sizes(self) -> tuple[int, ...]:
        return (len(COLORS), len(SHAPES), len(SIZES), self.bins, self.bins)

    @property
    def vocab_size(self) -> int:
        """END and every field's values (the input side adds BOS)."""
        return 1 + sum(self.field_sizes)

    @property
    def tokens(self) -> int:
        """The targets of one layout: five per object and the END after the last possible one."""
        return len(FIELDS) * self.max_objects + 1

    def offset(self, field: int) -> int:
        return 1 + sum(self.field_sizes[:field])

    def to_dict(self) -> dict:
        return asdict(self)


def encode_objects(objects: Sequence[dict], cfg: LayoutConfig) -> list[int]:
    """A layout's targets (cfg.tokens long): its objects' tokens, END, then -100 (no target)."""
    if len(objects) > cfg.max_objects:
        raise ValueError(f"a layout holds at most {cfg.max_objects} objects; got {len(objects)}")
    out: list[int] = []
    for o in objects:
        values = (
            COLORS.index(o["color"]),
            SHAPES.index(o["shape"]),
            SIZES.index(o["size"]),
            _bin(o["x"], cfg.bins),
            _bin(o["y"], cfg.bins),
        )
        out += [cfg.offset(f) + v for f, v in enumerate(values)]
    out.append(END)
    return out + [-100] * (cfg.tokens - len(out))


def _bin(v: float, bins: int) -> int:
    return min(bins - 1, max(0, int(float(v) * bins)))


def decode_objects(tokens: Sequence[int], cfg: LayoutConfig) -> list[dict]:
    """Tokens (as ``sample`` writes them) -> objects {color, shape, size, x, y}, each centroid at
    the centre of its bins; reading stops at END."""
    objects = []
    for k in range(cfg.max_objects):
        chunk = list(tokens[k * len(FIELDS) : (k + 1) * len(FIELDS)])
        if len(chunk) < len(FIELDS) or END in chunk:
            break
        v = [t - cfg.offset(f) for f, t in enumerate(chunk)]
        objects.append(
            dict(
                color=COLORS[v[0]],
                shape=SHAPES[v[1]],
                size=SIZES[v[2]],
                x=(v[3] + 0.5) / cfg.bins,
                y=(v[4] + 0.5) / cfg.bins,
            )
        )
    return objects


def quantised(objects: Sequence[dict], cfg: LayoutConfig) -> list[dict]:
    """The objects as the layout stage can write them (centroids at their bins' centres): what a
    layout decoder trains on, so that its training maps look like the ones it will be given."""
    return decode_objects(encode_objects(objects, cfg), cfg)


def layout_maps(layouts: Sequence[Sequence[dict]], size: int) -> torch.Tensor:
    """(n, CHANNELS, size, size) maps of n layouts: each object's bounding box (the world's shape
    extents) set to 1 in its colour's channel and its shape's."""
    from ..world.scene import Obj

    maps = torch.zeros(len(layouts), CHANNELS, size, size)
    for i, objects in enumerate(layouts):
        for o in objects:
            x0, y0, x1, y1 = Obj(o["shape"], o["color"], o["size"], float(o["x"]), float(o["y"])).bbox()
            c0, c1 = _pixels(x0, x1, size)
            r0, r1 = _pixels(y0, y1, size)
            maps[i, COLORS.index(o["color"]), r0:r1, c0:c1] = 1
            maps[i, len(COLORS) + SHAPES.index(o["shape"]), r0:r1, c0:c1] = 1
    return maps


def _pixels(lo: float, hi: float, size: int) -> tuple[int, int]:
    """The pixels [first, end) whose centres lie in [lo, hi] (canvas units); at least one."""
    first = min(size - 1, max(0, math.ceil(lo * size - 0.5)))
    return first, min(size, max(first + 1, math.floor(hi * size - 0.5) + 1))


class LayoutModel(nn.Module):
    """[caption tokens; BOS; object tokens]: the output at BOS predicts the first token, the output at
    token i the one after it."""

    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} is not divisible by heads {cfg.heads}")
        self.config = cfg
        w = cfg.width
        self.text_emb = nn.Embedding(cfg.text_vocab, w)
        self.text_pos = nn.Parameter(torch.randn(cfg.context, w) * 0.02)
        self.token_emb = nn.Embedding(cfg.vocab_size + 1, w)  # the last is BOS
        self.object_pos = nn.Parameter(torch.randn(cfg.max_objects + 1, w) * 0.02)
        self.field_pos = nn.Parameter(torch.randn(len(FIELDS), w) * 0.02)
        self.blocks = nn.ModuleList(Block(w, cfg.heads, cfg.dropout) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, text: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """text (B, context) ids and the first P tokens (B, P) -> logits (B, P + 1, vocab) for tokens
        0 .. P (teacher forcing with the whole target: pass ``targets[:, :-1]``)."""
        b, p = tokens.shape
        bos = torch.full((b, 1), self.config.vocab_size, dtype=torch.long, device=text.device)
        inputs = torch.cat([bos, tokens.clamp(min=0)], 1)  # -100 (no target) reads as END: never seen
        i = torch.arange(p + 1, device=text.device)  # the output at position i writes token i
        where = self.object_pos[i // len(FIELDS)] + self.field_pos[i % len(FIELDS)]
        x = torch.cat([self.text_emb(text) + self.text_pos, self.token_emb(inputs) + where], 1)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))[:, self.config.context :]

    def loss(self, text: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self(text, targets[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)

    @torch.no_grad()
    def sample(
        self, text: torch.Tensor, generators: Sequence[torch.Generator], temperature: float = 1.0
    ) -> list[list[int]]:
        """One layout's tokens per row of ``text`` (B, context), row i drawn with ``generators[i]``:
        each token among its field's values (END too where an object may start), at ``temperature``
        (0: the most likely)."""
        cfg = self.config
        b = text.shape[0]
        if len(generators) != b:
            raise ValueError(f"one generator per caption row: {b} rows, {len(generators)} generators")
        allowed = torch.zeros(len(FIELDS), cfg.vocab_size, dtype=torch.bool)
        for f, n in enumerate(cfg.field_sizes):
            allowed[f, cfg.offset(f) : cfg.offset(f) + n] = True
        allowed[0, END] = True
        tokens = torch.zeros(b, 0, dtype=torch.long, device=text.device)
        done = torch.zeros(b, dtype=torch.bool)
        for i in range(cfg.tokens):
            logits = self(text, tokens)[:, -1].float().cpu()
            field = i % len(FIELDS)
            ok = allowed[field] if i < cfg.tokens - 1 else F.one_hot(torch.tensor(END), cfg.vocab_size).bool()
            logits = logits.masked_fill(~ok, float("-inf"))
            nxt = logits.argmax(-1)
            if temperature > 0:  # a finished row draws nothing more, so its draws never depend on the others
                probs = torch.softmax(logits / temperature, -1)
                for r in torch.nonzero(~done).flatten().tolist():
                    nxt[r] = torch.multinomial(probs[r], 1, generator=generators[r])[0]
            nxt = torch.where(done, torch.full_like(nxt, END), nxt)
            done |= nxt == END
            tokens = torch.cat([tokens, nxt[:, None].to(tokens.device)], 1)
            if bool(done.all()):
                break
        return [row.tolist() for row in tokens.cpu()]
