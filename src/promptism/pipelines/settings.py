"""Generation settings and limits, apart from torch so that the command line can build its help
without importing it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import PromptismError

SAMPLER_NAMES = ("dpm++2m", "ddim", "ddpm")  # diffusion.samplers.SAMPLERS holds the functions
EMBEDDINGS = ("prior", "text", "none")
SIZES = (32, 64, 128)
MAX_PICTURES = 64
MAX_STEPS = 1000
MAX_GUIDANCE = 30.0
MAX_PROMPT_CHARS = 2000
# torch's CPU generator reads the low 32 bits of a seed (s and s + 2**32 draw the same numbers), so
# seeds stay below 2**32: picture i of a call seeded s is seeded s + i
SEED_LIMIT = 2**32 - MAX_PICTURES
# reranking (Settings.rerank): candidate j of the picture seeded s is drawn from seed
# s + j × CANDIDATE_STRIDE (mod 2**32). Candidate 0 is the picture itself; with at most MAX_RERANK
# candidates they lie 2**29 apart and never meet the seeds of the call's other pictures
MAX_RERANK = 8
CANDIDATE_STRIDE = 2**32 // MAX_RERANK

# the upsamplers the shipped decoder's pictures go through, in order: 32 -> 64 -> 128 px
SHIPPED_UPSAMPLERS = ("world-64", "world-128")


def default_size(sizes, stop_at: int | None = None) -> int:
    """The side drawn when none is asked, of the sides the models reach: the largest, or with
    ``stop_at`` the largest up to it (the smallest when every one is larger)."""
    below = [s for s in sizes if stop_at is None or s <= stop_at]
    return max(below) if below else min(sizes)


# editing (pipelines/edit.py; img2img in pipelines/unclip.py)
IMG2IMG_STRENGTH = 0.6
VARY_ETA = 0.5  # DDIM η when sampling back from an inverted picture: 0 gives the picture back
# candidates of each variation, kept by the reranking CLIP's cosine with the source picture: more than
# generate's, since a layout decoder is given no layout for a variation (experiments/unclip/vary-rerank-5.toml)
VARY_RERANK = 5
# decoder steps of the edits that run DDIM from a picture's inversion (vary, interpolate, edit): more
# steps kept less of the source, as a higher η does (benchmarks/reports/decoder_fidelity_vary_steps.md)
INVERSION_STEPS = 20
# the decoder's guidance interval of the edits (vary, interpolate, edit, inpaint, outpaint) unless asked:
# every step, as benchmarks/reports/edit_world.md measured them; generate's is Settings.guidance_interval
EDIT_GUIDANCE_INTERVAL = None
# the sampler of the edits (vary, interpolate, edit, inpaint, outpaint) and img2img unless asked, at
# every stage (prior, decoder, upsamplers): ancestral, as edit_world measured them; generate's is
# Settings.sampler
EDIT_SAMPLER = "ddpm"
IMG2IMG_STEPS = 50  # img2img's decoder steps unless asked (about strength × steps run)
TEXT_DIFF_AMOUNT = 0.5  # the largest rotation towards a text difference (the paper shows 0 to 0.5)
INPAINT_STEPS = 50
INPAINT_RESAMPLE = 4
# how the decoder stage inpaints (pipelines/inpaint.py): RePaint by default, since with the shipped
# decoder it drew the asked-for object far more often than its inpainting channels (edit_world.md)
INPAINT_METHODS = ("auto", "decoder", "repaint")
INPAINT_METHOD = "repaint"
# inpainting works on a square around the mask this many times the mask's size, so that what is
# drawn fills the models' frame as the objects of their training pictures do ("only masked")
INPAINT_CONTEXT = 1.3
MAX_FRAMES = 64
MAX_PAD = 4096


def edit_defaults(overrides: dict, steps: int) -> dict:
    """An edit's settings ``overrides``, with the edits' own defaults wherever not asked: ``steps``
    decoder steps, EDIT_SAMPLER and EDIT_GUIDANCE_INTERVAL (they replace a Settings object's)."""
    for name, value in (("steps", steps), ("sampler", EDIT_SAMPLER), ("guidance_interval", EDIT_GUIDANCE_INTERVAL)):
        overrides.setdefault(name, value)
    return overrides


@dataclass(frozen=True)
class Settings:
    """Everything that decides the pictures besides the prompt and seed. ``steps`` is the
    decoder's; the prior and the upsamplers have their own counts. ``sampler`` is every stage's."""

    # DDIM at η 0 and 10 decoder steps: with the layout decoder it scored no lower on GenEval-world
    # than 50 ancestral steps and drew a warm grid in a third of the time, by a rule written before the
    # run (experiments/unclip/generate-ddim-10-layout.toml). The edits keep ancestral sampling
    # (EDIT_SAMPLER), as edit_world measured them
    sampler: str = "ddim"
    steps: int = 10
    prior_steps: int = 20
    upsampler_steps: int | None = None  # None: each upsampler's own count (its config's sample_steps)
    guidance_prior: float = 2.0
    guidance_decoder: float = 3.0
    # a second guidance term on the decoder's caption alone: the decoder with the caption against the
    # decoder with the same image embedding and the negative prompt (classifier_free_two). The image
    # embedding of world-v1 barely holds where things are or which colour is which shape's; the
    # caption says. 0 (plain guidance) by default: with the shipped decoder, 1, 2 and 4 left colour
    # binding at chance and cost half again the decoder's time (decoder_fidelity_caption.md)
    guidance_text: float = 0.0
    # the decoder's timesteps (0-999, both ends included) at which its guidance applies; elsewhere the
    # decoder runs once a step, on the caption and embedding alone (guidance in a limited interval,
    # Kynkäänniemi et al. 2024: little needed at low noise, and a step without it costs half). None:
    # every step. 300-999: chosen with 50 ancestral steps (the last 15 unguided), within the rule's
    # tolerance of guiding every step on GenEval-world and faster
    # (experiments/unclip/generate-guidance-300-layout.toml); of DDIM's 10, the last 3 run unguided.
    # The edits keep every step (EDIT_GUIDANCE_INTERVAL), as edit_world measured them
    guidance_interval: tuple[int, int] | None = (300, 999)
    eta: float = 0.0  # DDIM only
    upsampler_aug_t: int = 50  # noise level given to the upsamplers' low-res input
    # rounds of back-projection of each upsampler's picture onto its input (0: none): 5 lift the
    # shipped upsampler's PSNR above bicubic's and more rounds add next to nothing
    # (benchmarks/reports/upsampler_world.md)
    upsampler_back_projection: int = 5
    # the decoder's x̂₀: None clips it to [-1, 1] each step; a percentile (e.g. 0.995) uses
    # Imagen's dynamic thresholding, which dims flat white backgrounds at moderate guidance
    threshold: float | None = None
    # draw this many candidates of each picture (prior, decoder and the upsamplers up to the reranking
    # CLIP's side) and keep the one the reranking CLIP (rerank_clip) scores highest against the prompt
    # (less the negative prompt's score), or for a variation against the source picture (which
    # draws VARY_RERANK unless asked); 1: no reranking. The other edits draw one picture per seed.
    # 2: the fewest that meet issue #41's GenEval-world bars with the layout decoder
    # (experiments/unclip/generate-rerank-layout.toml; benchmarks/reports/rerank_world.md)
    rerank: int = 2
    rerank_clip: str = "world-bind2"
    # with reranking: after this many decoder steps, score every candidate's x̂₀ (the decoder's
    # estimate of its finished picture) and carry on with the best one only, so that the steps
    # after it and the upsamplers draw one picture where they drew rerank; None scores the finished
    # pictures; a step past the decoder's last ranks its last x̂₀. Only pictures drawn from noise by the
    # full decoder prune early (not img2img, nor a distilled decoder). 10: the decoder's last step, so
    # the upsamplers draw only the kept candidate (experiments/unclip/generate-ddim-10-layout.toml;
    # with 50 ancestral steps 40 was the fewest within tolerance of ranking the finished pictures:
    # generate-rerank-step-layout.toml)
    rerank_step: int | None = 10
    prior_candidates: int = 2  # draw this many image embeddings, keep the one closest to the text (§2.1)
    # what the decoder's image embedding is (paper §5.1's comparison): "prior" (unCLIP), "text"
    # (the CLIP text embedding passed directly) or "none" (the null embedding: caption only)
    embedding: str = "prior"

    def check(self) -> None:
        if self.sampler not in SAMPLER_NAMES:
            raise PromptismError(f"unknown sampler {self.sampler!r}; samplers are {', '.join(SAMPLER_NAMES)}")
        for name in ("steps", "prior_steps", "upsampler_steps"):
            v = getattr(self, name)
            if name == "upsampler_steps" and v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_STEPS:
                raise PromptismError(
                    f"{name.replace('_', ' ')} must be a whole number from 1 to {MAX_STEPS}, got {v!r}"
                )
        for name in ("guidance_prior", "guidance_decoder", "guidance_text"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= MAX_GUIDANCE):
                raise PromptismError(f"{name.replace('_', ' ')} must be between 0 and {MAX_GUIDANCE:g}, got {v!r}")
        gi = self.guidance_interval
        if gi is not None and not (
            isinstance(gi, (tuple, list))
            and len(gi) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 999 for v in gi)
            and gi[0] <= gi[1]
        ):
            raise PromptismError(f"guidance interval must be two timesteps LO <= HI from 0 to 999, got {gi!r}")
        if not (isinstance(self.upsampler_back_projection, int) and 0 <= self.upsampler_back_projection <= 20):
            raise PromptismError(
                "upsampler back projection must be a whole number of rounds from 0 to 20, "
                f"got {self.upsampler_back_projection!r}"
            )
        if not (isinstance(self.upsampler_aug_t, int) and 0 <= self.upsampler_aug_t < 1000):
            raise PromptismError(f"upsampler aug t must be a whole number from 0 to 999, got {self.upsampler_aug_t!r}")
        if not 0.0 <= self.eta <= 1.0:
            raise PromptismError(f"eta must be between 0 and 1, got {self.eta!r}")
        if self.embedding not in EMBEDDINGS:
            raise PromptismError(f"embedding must be one of {', '.join(EMBEDDINGS)}, got {self.embedding!r}")
        if not (isinstance(self.rerank, int) and not isinstance(self.rerank, bool) and 1 <= self.rerank <= MAX_RERANK):
            raise PromptismError(
                f"rerank must be a whole number of candidates from 1 to {MAX_RERANK}, got {self.rerank!r}"
            )
        if self.rerank_step is not None and not (
            isinstance(self.rerank_step, int)
            and not isinstance(self.rerank_step, bool)
            and 1 <= self.rerank_step <= MAX_STEPS
        ):
            raise PromptismError(
                f"rerank step must be a whole number of decoder steps from 1 to {MAX_STEPS}, got {self.rerank_step!r}"
            )
        if not 1 <= self.prior_candidates <= 16:
            raise PromptismError(f"prior candidates must be from 1 to 16, got {self.prior_candidates!r}")
