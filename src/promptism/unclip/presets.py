"""The unCLIP stages' presets: the recipes that ship (and each phase that trained them) and those
tests use. Every other recipe tried is a file under ``experiments/unclip/`` (``promptism train
decoder --config FILE``), with the rule it was judged by and what it measured;
``docs/experiments/unclip.md`` tells the story as a table.
"""

from __future__ import annotations

_DEC_UNET = dict(channels=(64, 128, 192), res_blocks=2, attention=(False, True, True), unshuffle=2)
PRESETS: dict[str, dict[str, dict]] = {
    "decoder": {
        "tiny": {
            "model": dict(
                image_size=16,
                text_width=16,
                text_layers=1,
                text_heads=2,
                clip_tokens=2,
                unet=dict(channels=(8, 16), res_blocks=1, attention=(False, True), heads=2),
            ),
            "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
            "diffusion": dict(prediction="v"),
        },
        "world": {
            "model": dict(image_size=32, text_width=128, text_layers=2, text_heads=4, unet=_DEC_UNET),
            "loop": dict(
                steps=4000,
                batch_size=32,
                lr=3e-4,
                warmup=200,
                checkpoint_every=250,
                log_every=25,
                ema=0.999,
                ema_warmup=True,
            ),
            "diffusion": dict(prediction="v", min_snr_gamma=5.0),
        },
    },
    "prior": {
        "tiny": {
            "model": dict(width=32, layers=1, heads=2),
            "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
            "diffusion": dict(prediction="x0", min_snr_gamma=None),
        },
        "world": {
            "model": dict(width=256, layers=4, heads=4),
            "loop": dict(
                steps=3500,
                batch_size=64,
                lr=3e-4,
                warmup=200,
                checkpoint_every=500,
                log_every=25,
                ema=0.999,
                ema_warmup=True,
            ),
            "diffusion": dict(prediction="x0", min_snr_gamma=None),
        },
    },
    "upsampler": {
        "tiny": {
            "model": dict(
                low_size=8,
                image_size=16,
                aug_dim=8,
                unet=dict(
                    in_channels=6, channels=(8, 16), res_blocks=1, attention=(False, False), cond_dim=8, unshuffle=2
                ),
            ),
            "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
            "diffusion": dict(prediction="v"),
        },
        "world-64": {
            "model": dict(
                low_size=32,
                image_size=64,
                aug_dim=32,
                unet=dict(
                    in_channels=6,
                    channels=(32, 64, 128),
                    res_blocks=2,
                    attention=(False, False, False),
                    cond_dim=32,
                    unshuffle=2,
                ),
            ),
            "loop": dict(
                steps=3000,
                batch_size=16,
                lr=3e-4,
                warmup=100,
                checkpoint_every=250,
                log_every=25,
                ema=0.999,
                ema_warmup=True,
            ),
            "diffusion": dict(prediction="v", min_snr_gamma=5.0),
        },
    },
}
_PLAIN_V = dict(prediction="v", min_snr_gamma=None)

# The residual upsampler (``residual`` in UpsamplerConfig): the UNet diffuses 4x the residual over a
# bicubic upscaling of its input, so that bicubic quality is where it starts, not where it must get
# to; x 4 brings the residual near the unit scale the noise schedule assumes. The plain v loss
# (min-SNR weighting gives high noise, where an upsampler must draw from its input, almost no
# weight), and the low-res input noised to t < 100, since the decoder's pictures are clean at this
# scale (upsampler_world reports, experiments/unclip/upsampler-world-64-ft.toml).
for _name in ("world-64", "tiny"):
    _p = PRESETS["upsampler"][_name]
    PRESETS["upsampler"][f"{_name}-res"] = {
        "model": {**_p["model"], "residual": 4.0, "max_aug_t": 100},
        "diffusion": _PLAIN_V,
        "loop": {**_p["loop"], "steps": 6000} if _name == "world-64" else _p["loop"],
    }
# More training for the shipped residual upsampler (--init from world-64-res): it had shown each
# training picture only a few times (benchmarks/reports/upsampler_world_more.md)
PRESETS["upsampler"]["world-64-res-more"] = {
    **PRESETS["upsampler"]["world-64-res"],
    "loop": {**PRESETS["upsampler"]["world-64-res"]["loop"], "steps": 9000, "lr": 1.5e-4},
}

# The 64 -> 128 px upsampler that ships (experiments/unclip/upsampler-world-128*.toml): the residual
# recipe with a four-level UNet (64, 32, 16 and 8 px; 2 x 2 pixels folded, as world-64's, where
# folding 4 x 4 into 32 channels left objects' edges as bicubic draws them), trained on the
# timesteps near pure noise (logit-normal around t/T = sigmoid(3)) where its one- or two-step
# estimate is made, and drawn in 2 steps unless the settings name a count. Trained on pictures
# rendered at 128 px (scripts/train_unclip_world.sh), from random weights.
_W64 = PRESETS["upsampler"]["world-64-res"]
PRESETS["upsampler"]["world-128"] = {
    "model": {
        **_W64["model"],
        "low_size": 64,
        "image_size": 128,
        "sample_steps": 2,
        "when_asked": True,
        "unet": {**_W64["model"]["unet"], "channels": (16, 32, 64, 128), "attention": (False,) * 4},
    },
    "diffusion": {**_PLAIN_V, "timestep_sampling": "logit-normal", "t_mean": 3.0, "t_std": 1.0},
    "loop": {**_W64["loop"], "steps": 5000, "lr": 3e-4, "warmup": 100},
}

# The shipped decoder's phases, each --init from the one before (scripts/train_unclip_world.sh).
# world-ft and world-ft2: the plain v loss, since with min-SNR weighting the x0 error at high noise,
# where layout and shapes are decided, stayed large; world-ft2 at a lower rate while it still fell.
PRESETS["decoder"]["world-ft"] = {
    "model": PRESETS["decoder"]["world"]["model"],
    "diffusion": _PLAIN_V,
    "loop": {**PRESETS["decoder"]["world"]["loop"], "steps": 4500, "lr": 2e-4, "warmup": 50},
}
PRESETS["decoder"]["world-ft2"] = {
    **PRESETS["decoder"]["world-ft"],
    "loop": {**PRESETS["decoder"]["world-ft"]["loop"], "steps": 3000, "lr": 1.5e-4},
}
# The inpainting decoder (GLIDE §4, DALL·E 2 §3): four more input channels (the known picture and
# its mask) that start at zero, the rest of the weights from a plain decoder. Some training
# pictures have nothing known, so it stays a text-to-image decoder too.
PRESETS["decoder"]["world-inpaint"] = {
    "model": {**PRESETS["decoder"]["world"]["model"], "inpaint": True},
    "diffusion": _PLAIN_V,
    "loop": {**PRESETS["decoder"]["world"]["loop"], "steps": 1500, "lr": 2e-4, "warmup": 50},
}
# More training on the same embeddings with timesteps drawn logit-normally (Esser et al. 2024),
# which spends the steps at the middling and high noise where the decoder's pictures were lost,
# and half the pictures with nothing known; world-more-ln2 continues it. The uniform-timestep
# control and the phases that did not ship are in experiments/unclip/.
PRESETS["decoder"]["world-more-ln"] = {
    "model": PRESETS["decoder"]["world-inpaint"]["model"],
    "diffusion": {**_PLAIN_V, "timestep_sampling": "logit-normal"},
    "loop": {**PRESETS["decoder"]["world"]["loop"], "steps": 6000, "lr": 1e-4, "warmup": 100},
    "task": {"p_plain": 0.5},
}
PRESETS["decoder"]["world-more-ln2"] = {
    **PRESETS["decoder"]["world-more-ln"],
    "loop": {**PRESETS["decoder"]["world-more-ln"]["loop"], "steps": 9000},
}
# The layout decoder (experiments/unclip/decoder-world-boxes.toml): world-more-ln2 continued with
# 14 more input channels that start at zero, the boxes of the picture's own objects painted in a
# channel for each colour and one for each shape (promptism.layout), none in a fifth of the
# pictures so variations and edits, which give no layout, still draw. `promptism train decoder
# --layout FOLDER` names the layout stage whose bins its boxes are written in.
PRESETS["decoder"]["world-boxes"] = {
    **PRESETS["decoder"]["world-more-ln2"],
    "model": {**PRESETS["decoder"]["world-more-ln2"]["model"], "layout": True},
    "loop": {**PRESETS["decoder"]["world-more-ln"]["loop"], "steps": 4000, "checkpoint_every": 500},
    "task": {**PRESETS["decoder"]["world-more-ln"]["task"], "layout_drop": 0.2},
}
PRESETS["decoder"]["tiny-inpaint"] = {
    **PRESETS["decoder"]["tiny"],
    "model": {**PRESETS["decoder"]["tiny"]["model"], "inpaint": True},
}


# Whole stacks for `promptism train unclip`: every stage's settings and the target size, the
# upsampler's repeated (low_size and image_size set per doubling) from the decoder's size up to it.
# tiny: the tests'. base: the shipped models' first recipes (before their fine-tuning phases), on
# any captioned pictures (the plain contrastive CLIP), sized for a CPU. gpu: base with 8x the batch
# and twice the learning rate, for one GPU. gpu8: gpu's batch per GPU on eight (the batch is the
# global one), a quarter of its steps.
def stack_presets() -> dict[str, dict]:
    from ..clip.presets import PRESETS as CLIP

    def scaled(p: dict, batch: int, lr: float, steps: float) -> dict:
        loop = p["loop"]
        return {
            **p,
            "loop": {
                **loop,
                "batch_size": loop["batch_size"] * batch,
                "lr": loop["lr"] * lr,
                "steps": max(1, round(loop["steps"] * steps)),
                "checkpoint_every": max(1, round(loop["checkpoint_every"] * steps)),
            },
        }

    base = {
        "size": 64,
        "clip": CLIP["world"],
        "prior": PRESETS["prior"]["world"],
        "decoder": PRESETS["decoder"]["world"],
        "upsampler": PRESETS["upsampler"]["world-64-res"],
    }
    stages = ("clip", "prior", "decoder", "upsampler")
    gpu = {"size": 64, **{k: scaled(base[k], 8, 2.0, 1.0) for k in stages}}
    return {
        "tiny": {
            "size": 32,
            "clip": CLIP["tiny"],
            "prior": PRESETS["prior"]["tiny"],
            "decoder": PRESETS["decoder"]["tiny"],
            "upsampler": PRESETS["upsampler"]["tiny-res"],
        },
        "base": base,
        "gpu": gpu,
        "gpu8": {"size": 64, **{k: scaled(gpu[k], 8, 1.0, 0.25) for k in stages}},
    }
