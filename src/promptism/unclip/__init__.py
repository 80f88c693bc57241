"""unCLIP (Ramesh et al. 2022): prompt -> CLIP text embedding -> diffusion prior -> CLIP image
embedding -> diffusion decoder -> upsamplers.

    prior.py       the prior: a causal transformer that predicts the clean image embedding
    decoder.py     the decoder: a UNet conditioned on the image embedding and the caption (GLIDE-style)
    upsampler.py   the upsamplers: 32 -> 64 and 64 -> 128 px, with conditioning augmentation
    folders.py     model folders (config.json + safetensors): loading, saving, shipping
    presets.py     the stages' presets that ship or that tests use
    task_config.py the training tasks' knobs (torch-free)
    training.py    each stage's training task over the one loop, and `promptism train STAGE`
    embeddings.py  a dataset's CLIP embeddings, computed once for the prior's and decoder's training

Generation over these models is ``promptism.pipelines.unclip``; training imports the library,
never the other way round.
"""

__all__ = ["Decoder", "DecoderConfig", "Prior", "PriorConfig", "Upsampler", "UpsamplerConfig"]
_HOMES = {name: name.removesuffix("Config").lower() for name in __all__}  # Decoder -> decoder.py


def __getattr__(name: str):
    # the networks (and torch) load when first used, not when the torch-free task configs are read
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
