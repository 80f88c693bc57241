"""Contrast captions (the prompt with one vocabulary word changed) and guide's contrast loss, which
asks CLIP to pick the prompt out of them."""

import pytest
import torch

from promptism.errors import PromptismError
from promptism.guide import guide
from promptism.guide.contrast import contrasts


def test_each_contrast_changes_one_colour_shape_background_number_or_relation():
    out = contrasts("a photo of a red plus on a gray background")
    assert "a photo of a blue plus on a gray background" in out
    assert "a photo of an orange plus on a gray background" in out  # the article follows the word
    assert "a photo of a red star on a gray background" in out
    assert "a photo of a red plus on a black background" in out
    assert "a photo of a red plus under a blue sky" in out
    assert "a photo of a red plus on a gray background" not in out and len(out) == len(set(out))
    sky = contrasts("a yellow diamond under a blue sky")
    assert "a yellow diamond on a white background" in sky and not any("over" in c for c in sky)
    assert not any("blue diamond under a red sky" in c for c in sky)
    pair = contrasts("a red circle above a blue square")
    assert {"a blue circle above a red square", "a red circle below a blue square"} <= set(pair)
    assert "a red star above a blue square" in contrasts("a red star under a blue square")
    assert not any("bottom" in c for c in contrasts("a red star on top of a green box"))  # a relation, not a place
    assert "a star at the bottom of the picture" in contrasts("a star at the top of the picture")
    assert {"three blue stars", "two blue circles"} <= set(contrasts("two blue stars"))
    assert contrasts("a cat in a hat") == [] and len(contrasts("a red circle above a blue square", most=5)) == 5


def test_colour_contrasts_change_only_a_colour_or_the_background():
    prompt = "a red circle above a blue square on a gray background"
    every, colours = contrasts(prompt), contrasts(prompt, colours_only=True)
    assert set(colours) < set(every)
    assert {"a blue circle above a red square on a gray background"} <= set(colours)  # colours exchanged
    assert {"a green circle above a blue square on a gray background"} <= set(colours)
    assert {"a red circle above a blue square under a blue sky"} <= set(colours)
    assert {"a red circle above a blue square on a white background"} <= set(colours)
    for caption in colours:  # the shapes and their relation stay
        assert " circle above " in caption and " square " in caption
        assert "star" not in caption and "below" not in caption
    assert "a red star above a blue square on a gray background" in every  # a shape changed: not a colour contrast
    assert contrasts("a picture of a diamond and a circle", colours_only=True) == []


def _prompt_share(clip, image, prompt: str) -> float:
    """CLIP's softmax share of the prompt among the prompt and its contrasts."""
    captions = [prompt, *contrasts(prompt)]
    logits = clip.logit_scale() * clip.encode_image(image) @ clip.encode_text(captions).T
    return float(torch.softmax(logits, dim=-1)[0, 0])


def test_the_contrast_loss_makes_clip_pick_the_prompt_over_its_contrasts():
    from promptism.clip import load

    clip, prompt = load("world"), "a photo of a red plus on a gray background"
    fast = dict(steps=60, cutn=4, clips=("world",), generator="pixels", augment=(), seed=3)
    plain = guide(prompt, **fast)
    contrasted = guide(prompt, contrast=1.0, **fast)
    assert contrasted.metadata[0]["settings"]["contrast"] == 1.0
    assert _prompt_share(clip, contrasted.images[0], prompt) > _prompt_share(clip, plain.images[0], prompt) + 0.03
    with pytest.raises(PromptismError, match="contrast must be a number from 0 to 100"):
        guide(prompt, contrast=-1, **fast)
