"""A VQGAN (Esser, Rombach and Ommer 2021, "Taming Transformers"): a convolutional encoder, a
vector-quantised bottleneck and a convolutional decoder, trained to reconstruct with an L1 loss, a
perceptual loss and a patch discriminator.

The codebook is looked up by cosine similarity of l2-normalised vectors (Yu et al. 2022,
"Vector-quantized Image Modeling with Improved VQGAN", §3.2), updated as exponential moving
averages of the vectors assigned to each code (van den Oord et al. 2017, Appendix A.1; Razavi et
al. 2019), and a code no vector has chosen for a while is restarted at a random encoder vector of
the batch, so that the whole codebook stays in use. Fully convolutional: the decoder draws any
grid of codes, a larger grid giving a larger picture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VQGANConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (64, 128, 256)  # one level each; every level after the first halves the side
    res_blocks: int = 1
    embed_dim: int = 32  # width of a code
    codebook_size: int = 512
    decay: float = 0.99  # of the codebook's moving averages
    restart_below: float = 0.03  # a code chosen less often than this (moving average, per batch) restarts
    disc_channels: int = 64

    def __post_init__(self):
        if isinstance(self.channels, list):
            object.__setattr__(self, "channels", tuple(self.channels))
        if self.image_size % self.factor:
            raise ValueError(f"image_size {self.image_size} is not a multiple of the downsampling {self.factor}")

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def grid(self) -> int:
        return self.image_size // self.factor

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, c // 4) or 1, c)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            _norm(cin),
            nn.SiLU(),
            nn.Conv2d(cin, cout, 3, padding=1),
            _norm(cout),
            nn.SiLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.skip(x) + self.body(x)


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv2d(3, c[0], 3, padding=1)]
        cin = c[0]
        for i, cout in enumerate(c):
            if i:
                layers.append(nn.Conv2d(cin, cin, 3, stride=2, padding=1))  # halve the side
            for _ in range(cfg.res_blocks):
                layers.append(ResBlock(cin, cout))
                cin = cout
        layers += [ResBlock(cin, cin), _norm(cin), nn.SiLU(), nn.Conv2d(cin, cfg.embed_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        c = cfg.channels[::-1]
        layers: list[nn.Module] = [nn.Conv2d(cfg.embed_dim, c[0], 3, padding=1), ResBlock(c[0], c[0])]
        cin = c[0]
        for i, cout in enumerate(c):
            if i:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cin, 3, padding=1)]
            for _ in range(cfg.res_blocks):
                layers.append(ResBlock(cin, cout))
                cin = cout
        layers += [_norm(cin), nn.SiLU(), nn.Conv2d(cin, 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class Quantizer(nn.Module):
    """Nearest code by cosine similarity, codes kept as moving averages (buffers, not weights)."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.decay, self.restart_below = cfg.decay, cfg.restart_below
        codes = F.normalize(torch.randn(cfg.codebook_size, cfg.embed_dim), dim=1)
        self.register_buffer("codebook", codes)
        self.register_buffer("cluster_size", torch.ones(cfg.codebook_size))
        self.register_buffer("embed_sum", codes.clone())

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, H, W) -> (B, H, W) code indices."""
        flat = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]), dim=1)
        return (flat @ self.codebook.T).argmax(1).view(z.shape[0], *z.shape[2:])

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, H, W) indices -> (B, D, H, W) code vectors."""
        return self.codebook[idx].permute(0, 3, 1, 2)

    def forward(self, z: torch.Tensor, generator: torch.Generator | None = None):
        """(quantised z with straight-through gradients, indices, commitment loss, logs)."""
        zn = F.normalize(z, dim=1)
        idx = self.indices(z)
        q = self.lookup(idx)
        commit = (zn - q.detach()).pow(2).mean()
        logs = {}
        if self.training:
            with torch.no_grad():
                flat = zn.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
                onehot = F.one_hot(idx.view(-1), len(self.codebook)).type_as(flat)
                counts, sums = onehot.sum(0), onehot.T @ flat
                shared = torch.distributed.is_available() and torch.distributed.is_initialized()
                if shared:  # every process's vectors count
                    torch.distributed.all_reduce(counts)
                    torch.distributed.all_reduce(sums)
                self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
                self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
                self.codebook.copy_(F.normalize(self.embed_sum, dim=1))
                dead = self.cluster_size < self.restart_below
                n_dead = int(dead.sum())
                if n_dead:  # restarted at random vectors of this batch
                    pick = torch.randint(0, len(flat), (n_dead,), generator=generator).to(flat.device)
                    self.codebook[dead] = flat[pick]
                    self.embed_sum[dead] = flat[pick]
                    self.cluster_size[dead] = 1.0
                if shared and n_dead:  # the main process's restarts, in every process
                    for buf in (self.codebook, self.embed_sum, self.cluster_size):
                        torch.distributed.broadcast(buf, 0)
                p = counts / counts.sum()
                logs = {
                    "perplexity": float(torch.exp(-(p * (p + 1e-10).log()).sum())),
                    "codes_used": float((counts > 0).float().mean()),
                    "restarted": float(n_dead),
                }
        q = zn + (q - zn).detach()  # straight through
        return q, idx, commit, logs


class VQGAN(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.config = cfg
        self.encoder, self.quantizer, self.decoder = Encoder(cfg), Quantizer(cfg), Decoder(cfg)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Pictures (B, 3, S, S) in [-1, 1] -> code indices (B, S/f, S/f)."""
        return self.quantizer.indices(self.encoder(x))

    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        """Code indices (B, h, w) -> pictures (B, 3, h·f, w·f), not clamped."""
        return self.decoder(self.quantizer.lookup(idx))

    def decode_vectors(self, z: torch.Tensor) -> torch.Tensor:
        """Continuous code vectors (B, D, h, w), l2-normalised as the codes are -> pictures. VQGAN+CLIP
        optimises these, snapping them to the nearest codes on the way (``snap``)."""
        return self.decoder(z)

    def snap(self, z: torch.Tensor) -> torch.Tensor:
        """Each vector replaced by its nearest code, with straight-through gradients."""
        q = self.quantizer.lookup(self.quantizer.indices(z))
        zn = F.normalize(z, dim=1)
        return zn + (q - zn).detach()

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        q, idx, commit, logs = self.quantizer(self.encoder(x), generator)
        return self.decoder(q), idx, commit, logs


class PatchDiscriminator(nn.Module):
    """Real or reconstructed, judged per overlapping patch (PatchGAN, Isola et al. 2017)."""

    def __init__(self, c: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
            _norm(2 * c),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 3, padding=1),
            _norm(4 * c),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, 3, padding=1),
        )

    def forward(self, x):
        return self.net(x)
