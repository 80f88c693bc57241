"""mini's transformer as a prior for the vqgan generator, two ways. It draws the canvas guide starts
from (``drawn_canvases``: Scene World pictures whose codes it writes reading the empty caption, or
reading the prompt), and it can weigh the codes as a loss (``CodePrior``).

The code prior: mini's transformer, reading the empty caption, says which
VQGAN codes a Scene World picture would hold at each place given the codes before it. CLIP alone
can be satisfied by code grids no world picture has (strokes, fragments); this loss pulls each
place towards the codes the transformer expects there, so the picture stays one the VQGAN and the
transformer have seen the like of, while CLIP decides what it shows. The caption is always empty:
the prior knows what world pictures look like, never what the prompt asks.

The loss at each place is the cross-entropy between a soft choice of code (a softmax of the
vector's cosines with the codebook, at ``TEMPERATURE``) and the transformer's prediction for that
place, which reads the snapped codes before it and takes no gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import PromptismError

TEMPERATURE = 0.1  # of the soft choice of code among the codebook's cosines
CHUNK = 64  # canvases drawn at once (each from its own generator, so the chunks change no picture)


class CodePrior:
    """``weight`` × ``loss(z)`` joins guide's loss. ``loss(z)``: how unlike a world picture's codes
    the code vectors z (B, D, h, w) are, in nats a place. Grids larger than the transformer's are
    scored window by window (each window of its grid's size, at the positions of a picture of its
    size; overlapping at the edges where the grid is not a multiple)."""

    def __init__(self, mini, vq, weight: float):
        model_cfg = mini.model.cfg
        if not torch.equal(vq.quantizer.codebook, mini.vq.quantizer.codebook):  # False for other sizes too
            raise PromptismError("the code prior's mini model writes another VQGAN's codes than the guide's --vqgan")
        self.model, self.codebook, self.grid = mini.model, vq.quantizer.codebook, model_cfg.grid
        self.null = mini.tokenizer([""])[0]  # (1, context)
        self.weight, self.folder, self.factor = float(weight), mini.folder, vq.config.factor

    def check_size(self, size: int) -> None:
        g = self.grid
        if size < g * self.factor:
            raise PromptismError(
                f"the code prior reads {g}×{g} codes: the picture must be at least {g * self.factor} px"
            )

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B·n, C, grid, grid): windows of the grid's size in rows, side by side, the
        last of a row or column moved back to end at the edge where the grid is not a multiple."""
        g = self.grid
        h, w = x.shape[-2:]
        self.check_size(min(h, w) * self.factor)

        def starts(n: int) -> list[int]:
            return sorted(set(range(0, n - g + 1, g)) | {n - g})

        return torch.cat([x[:, :, i : i + g, j : j + g] for i in starts(h) for j in starts(w)])

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        win = self._windows(z)
        flat = F.normalize(win.flatten(2).transpose(1, 2), dim=-1)  # (N, g·g, D)
        cos = flat @ self.codebook.T  # (N, g·g, K)
        with torch.no_grad():
            codes = cos.argmax(-1)
            logp = self.model(self.null.expand(len(codes), -1), codes).log_softmax(-1)
        soft = (cos / TEMPERATURE).softmax(-1)
        return -(soft * logp).sum(-1).mean()


@torch.no_grad()
def drawn_canvases(
    mini, size: int, g: torch.Generator, n: int = 1, caption: str = "", negative: str = ""
) -> torch.Tensor:
    """n pictures (n, 3, size, size) in [-1, 1] whose codes mini's transformer drew (each from its
    own generator, seeded from ``g``), decoded by its VQGAN and resized to ``size``: where the vqgan
    generator may start. With the empty ``caption`` (canvas "prior") the transformer reads nothing
    and draws Scene World pictures of no prompt's choosing; with a caption (canvas "prompt") it reads
    it at ``promptism mini``'s default sampling settings, classifier-free guidance included, with
    ``negative`` in the empty caption's place."""
    from ..mini.defaults import DEFAULTS
    from ..mini.sample import sample_codes

    grid = mini.model.cfg.grid
    # one picture draws from g itself; several from generators seeded from it
    gens = (
        [g] if n == 1 else [torch.Generator().manual_seed(int(s)) for s in torch.randint(0, 2**62, (n,), generator=g)]
    )
    null = mini.tokenizer([negative])[0]
    # no caption: the empty one is read, unguided, at sample_codes' own settings
    text = mini.tokenizer([caption])[0] if caption else null
    sampling = {k: DEFAULTS[k] for k in ("temperature", "top_k", "top_p", "cond_scale")} if caption else {}
    x = torch.cat(
        [
            mini.vq.decode(
                sample_codes(
                    mini.model,
                    text.expand(len(chunk), -1),
                    null.expand(len(chunk), -1) if caption else None,
                    chunk,
                    **sampling,
                ).view(len(chunk), grid, grid)
            )
            for chunk in (gens[i : i + CHUNK] for i in range(0, n, CHUNK))
        ]
    ).clamp(-1, 1)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(-1, 1)
    return x
