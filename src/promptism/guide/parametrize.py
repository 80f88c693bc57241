"""What CLIP-guided optimisation changes: the pixels themselves, or an image's Fourier spectrum
(Aphantasia's and Lucid's parametrisation: Mordvintsev et al. 2018, "Differentiable Image
Parameterizations"), and the cutouts CLIP sees of it (Crowson et al. 2022, §2.3: random crops of
random size, resized to CLIP's input and augmented, so that the picture must satisfy CLIP as a
whole and at many scales, not only as one adversarial input)."""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import PromptismError

# the square root of the colour correlation of ImageNet pictures (Lucid's, in its columns), so
# that the spectrum's channels are decorrelated colours; scaled to a largest column norm of 1
_COLOUR = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR = _COLOUR / _COLOUR.norm(dim=0).max()
EDGE = 0.999  # pictures come out of tanh: an init picture is pulled this far in from ±1
GRAY = 128 / 127.5 - 1  # the Scene World's plain background, where the VQGAN generator starts


@contextmanager
def frozen(*modules: nn.Module):
    """The modules' weights take no gradients inside (only the picture is optimised); each
    weight's own setting comes back afterwards."""
    params = [p for m in modules for p in m.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def _atanh(x: torch.Tensor) -> torch.Tensor:
    return torch.atanh(x.clamp(-EDGE, EDGE))


class Pixels(nn.Module):
    """The picture's pixels, through tanh to stay in [-1, 1]."""

    NOISE = 0.5  # the starting noise's standard deviation at noise 1

    def __init__(self, size: int, init: torch.Tensor | None, noise: float, g: torch.Generator):
        super().__init__()
        start = _atanh(init) if init is not None else torch.zeros(1, 3, size, size)
        self.param = nn.Parameter(start + self.NOISE * noise * torch.randn(1, 3, size, size, generator=g))

    def forward(self) -> torch.Tensor:
        return torch.tanh(self.param)


class Spectrum(nn.Module):
    """The picture's 2-D Fourier spectrum in decorrelated colours, each frequency scaled by
    1/frequency^decay, so that a step moves coarse structure as much as fine."""

    NOISE = 0.01

    def __init__(self, size: int, init: torch.Tensor | None, noise: float, g: torch.Generator, decay: float = 1.0):
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = (fx**2 + fy**2).sqrt().clamp(min=1.0 / size)
        self.register_buffer("scale", (1.0 / freq**decay) / size)  # (S, S//2+1)
        self.size = size
        shape = (1, 3, size, size // 2 + 1, 2)
        start = torch.zeros(shape)
        if init is not None:
            decorrelated = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(COLOUR), _atanh(init))
            spec = torch.fft.rfft2(decorrelated, norm="ortho") / self.scale
            start = torch.view_as_real(spec)
        self.param = nn.Parameter(start + self.NOISE * noise * torch.randn(shape, generator=g))

    def forward(self) -> torch.Tensor:
        spec = torch.view_as_complex(self.param) * self.scale
        x = torch.fft.irfft2(spec, s=(self.size, self.size), norm="ortho")
        return torch.tanh(torch.einsum("ij,bjhw->bihw", COLOUR, x))


class Codes(nn.Module):
    """A VQGAN's code vectors (VQGAN+CLIP's z), each snapped to its nearest code on the way into the
    decoder with straight-through gradients; the decoder's picture is clamped to [-1, 1] with
    gradients passed through. Starts from the init picture's codes, or a gray canvas's, plus noise."""

    NOISE = 0.3

    def __init__(self, size: int, init: torch.Tensor | None, noise: float, g: torch.Generator, vq):
        super().__init__()
        self._vq = (vq,)  # not a submodule: its weights are not optimised
        f = vq.config.factor
        if size % f:
            raise PromptismError(f"with the VQGAN, size must be a multiple of {f}, got {size}")
        with torch.no_grad():
            # the init picture's codes, or a plain gray canvas's (random codes start from a clutter
            # of fragments that the prompt must first undo)
            start = init if init is not None else torch.full((1, 3, size, size), GRAY)
            z = F.normalize(vq.encoder(start), dim=1)
        self.param = nn.Parameter(z + self.NOISE * noise * torch.randn(z.shape, generator=g))

    def forward(self) -> torch.Tensor:
        vq = self._vq[0]
        x = vq.decode_vectors(vq.snap(self.param))
        return x + (x.clamp(-1, 1) - x).detach()


class Styles(nn.Module):
    """A StyleGAN's styles, one per layer (W+), drawn into the picture with the model's fixed noise
    and resized to ``size``; clamped to [-1, 1] with gradients passed through. Starts from the
    styles of noise drawn from the seed, truncated halfway to the mean style (``init_noise`` scales
    how far from the mean; 0 starts every seed at the mean). An init picture is not projected: the
    init weight pulls the pixels towards it."""

    def __init__(self, size: int, init: torch.Tensor | None, noise: float, g: torch.Generator, gen):
        super().__init__()
        self._gen, self.size = (gen,), size  # not a submodule: its weights are not optimised
        with torch.no_grad():
            z = torch.randn(1, gen.config.z_dim, generator=g)
            self.param = nn.Parameter(gen.ws(z, truncation=min(1.0, 0.5 * noise)))

    def forward(self) -> torch.Tensor:
        x = self._gen[0].synthesis(self.param, "const")
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x + (x.clamp(-1, 1) - x).detach()


def zoomed(x: torch.Tensor, zoom: float) -> torch.Tensor:
    """The picture enlarged by ``zoom`` about its centre and cropped back to its size (a zoom
    video's next frame, before it is optimised or dreamt again)."""
    h, w = x.shape[-2:]
    big = F.interpolate(x, scale_factor=zoom, mode="bilinear", align_corners=False)
    top, left = (big.shape[-2] - h) // 2, (big.shape[-1] - w) // 2
    return big[:, :, top : top + h, left : left + w]


AUGMENTATIONS = ("flip", "affine", "noise", "colour")
EXTRA_AUGMENTATIONS = ("blur",)  # offered, not on by default


class Cutouts:
    """``cutn`` random square crops of a picture, of sides drawn between CLIP's input size (or the
    picture's, if smaller) and the whole picture with ``cut_pow`` favouring small ones above 1,
    resized to ``cut_size`` and augmented; every draw comes from ``g``."""

    def __init__(self, cut_size: int, cutn: int, cut_pow: float, augment: tuple[str, ...], g: torch.Generator):
        known = AUGMENTATIONS + EXTRA_AUGMENTATIONS
        bad = set(augment) - set(known)
        if bad:
            raise PromptismError(f"unknown augmentation {', '.join(sorted(bad))}; augmentations are {', '.join(known)}")
        if not isinstance(cutn, int) or cutn < 1:
            raise PromptismError(f"cutn must be a whole number of at least 1, got {cutn!r}")
        if not (isinstance(cut_pow, (int, float)) and cut_pow > 0):
            raise PromptismError(f"cut_pow must be a positive number, got {cut_pow!r}")
        self.cut_size, self.cutn, self.cut_pow, self.augment, self.g = cut_size, cutn, cut_pow, augment, g

    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.g)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        side = img.shape[-1]
        small = min(side, self.cut_size)
        cuts = []
        for _ in range(self.cutn):
            s = int(float(self._rand(1)) ** self.cut_pow * (side - small) + small)
            x0 = int(float(self._rand(1)) * (side - s + 1))
            y0 = int(float(self._rand(1)) * (side - s + 1))
            cut = img[:, :, y0 : y0 + s, x0 : x0 + s]
            mode = "area" if s > self.cut_size else "bilinear"
            kw = {} if mode == "area" else {"align_corners": False}
            cuts.append(F.interpolate(cut, size=self.cut_size, mode=mode, **kw))
        x = torch.cat(cuts)
        n = len(x)
        if "flip" in self.augment:
            flip = self._rand(n) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if "affine" in self.augment:  # a small rotation and shift, borders reflected
            angle = (self._rand(n) - 0.5) * (2 * math.pi * 15 / 360)
            shift = (self._rand(n, 2) - 0.5) * 0.2
            cos, sin = angle.cos(), angle.sin()
            theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)
        if "colour" in self.augment:  # brightness and contrast, a little
            b = (self._rand(n, 1, 1, 1) - 0.5) * 0.2
            c = 1 + (self._rand(n, 1, 1, 1) - 0.5) * 0.2
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * c + mean + b
        if "blur" in self.augment:  # down to a random 1/4..1 of the side and back up: fine detail is lost
            small = max(1, int(self.cut_size * (0.25 + 0.75 * float(self._rand(1)))))
            x = F.interpolate(F.interpolate(x, size=small, mode="area"), size=self.cut_size, mode="bilinear")
        if "noise" in self.augment:  # VQGAN+CLIP's: Gaussian noise of a random strength per cutout
            x = x + self._rand(n, 1, 1, 1) * 0.1 * torch.randn(x.shape, generator=self.g)
        return x.clamp(-1, 1)
