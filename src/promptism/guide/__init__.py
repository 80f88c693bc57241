"""CLIP-guided generation: a picture optimised until CLIP agrees with the prompts (VQGAN codes, by
default from a canvas mini's transformer draws; pixels; an FFT spectrum; or GAN styles), and
DeepDream on CLIP's image tower.

    from promptism.guide import guide, dream
    result = guide("a red star | a yellow star:-1", generator="fft", seed=3)
    dreamt = dream("picture.png", layer="body.2")
"""

from .dream import DreamResult, dream, list_layers
from .optimize import GENERATORS, GuideResult, guide
from .prompts import Prompt, parse_image_prompt, parse_prompts

__all__ = [
    "GENERATORS",
    "DreamResult",
    "GuideResult",
    "Prompt",
    "dream",
    "guide",
    "list_layers",
    "parse_image_prompt",
    "parse_prompts",
]
