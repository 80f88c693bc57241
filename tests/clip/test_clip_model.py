"""CLIP's tokenizer and model: shapes, the image stem, the text tower's token shift, causal attention, packing."""

import pytest
import torch
from clip_helpers import TINY

from promptism.clip.loss import contrastive_loss
from promptism.clip.model import CLIP, CLIPConfig
from promptism.clip.native import NativeClip, load_folder
from promptism.world import vocab


def test_tokenizer_pads_wraps_and_truncates(tok, tmp_path):
    ids, mask = tok(["a red circle", "two blue stars on a gray background"])
    assert ids.shape == mask.shape == (2, 28)
    assert ids[0, 0] == tok.tok.token_to_id("[SOS]")
    n0 = int(mask[0].sum())
    assert ids[0, n0 - 1] == tok.eos_id and (ids[0, n0:] == tok.pad_id).all()
    with pytest.warns(UserWarning, match="truncated"):
        long_ids, long_mask = tok([" ".join(["red circle"] * 40)])
    assert long_mask.all() and long_ids[0, -1] == tok.eos_id  # [EOS] survives truncation
    tok.save(tmp_path / "t.json")
    again = type(tok).load(tmp_path / "t.json", 28)
    assert torch.equal(again(["a red circle"])[0], tok(["a red circle"])[0])
    # every world word is one token: the vocabulary was trained on them
    for word in list(vocab.COLORS) + list(vocab.PLURALS) + list(vocab.PLURALS.values()):
        assert len(tok.tok.encode(word).ids) == 3, word  # [SOS] word [EOS]


def test_model_shapes_and_unit_embeddings(tok):
    m = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY))
    ids, mask = tok(["a red circle", "three blue stars"])
    tokens, pooled = m.text_features(ids, mask)
    assert tokens.shape == (2, 28, 32) and pooled.shape == (2, 32)
    img = m.encode_image(torch.zeros(3, 3, 32, 32))
    assert img.shape == (3, 32)
    assert torch.allclose(img.norm(dim=-1), torch.ones(3)) and torch.allclose(pooled.norm(dim=-1), torch.ones(2))
    with pytest.raises(ValueError, match="divisible"):
        CLIPConfig(image_size=34, image_channels=(8, 16))


def test_stride_stem_halves_the_side_in_one_convolution(tok, tmp_path):
    """image_stem "stride": the first stage is one stride-2 convolution, no layer sees the full
    side, the tower's output size is unchanged, and the folder loads back to the same model."""
    m = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **{**TINY, "image_blocks": 2, "image_stem": "stride"}))
    first = m.image.body[0]
    convs = [c for c in first.modules() if isinstance(c, torch.nn.Conv2d)]
    assert len(convs) == 1 and convs[0].stride == (2, 2)
    assert not any(isinstance(c, torch.nn.MaxPool2d) for c in first.modules())
    pooled = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **{**TINY, "image_blocks": 2}))
    assert sum(isinstance(c, torch.nn.Conv2d) for c in pooled.image.body[0].modules()) == 2
    x = torch.randn(2, 3, 32, 32)
    assert m.image.body[0](x).shape == pooled.image.body[0](x).shape == (2, 8, 16, 16)
    assert m.encode_image(x).shape == (2, 32)
    NativeClip(m, tok).save(tmp_path / "m")
    again = load_folder(tmp_path / "m")
    assert again.model.config.image_stem == "stride"
    m.eval()
    assert torch.allclose(again.model.encode_image(x), m.encode_image(x))
    with pytest.raises(ValueError, match="image_stem"):
        CLIPConfig(image_stem="patch")


def test_token_shift_shows_each_word_the_one_before():
    from promptism.nn.text import CaptionEncoder

    torch.manual_seed(0)
    ids = torch.tensor([[1, 5, 6, 7, 2]])
    mask = torch.ones_like(ids, dtype=torch.bool)
    changed = ids.clone()
    changed[0, 2] = 9  # the word at position 2
    for shift in (False, True):
        enc = CaptionEncoder(16, 8, 12, layers=0, heads=2, token_shift=shift)  # no attention: words alone
        a, _ = enc(ids, mask)
        b, _ = enc(changed, mask)
        moved = (a - b).abs().sum(-1)[0]
        assert moved[2] > 0 and moved[1] == 0 and moved[4] == 0
        assert (moved[3] > 0) == shift  # only the shift carries a word to the next position


def test_causal_attention_shows_each_word_only_the_words_before_it():
    from promptism.nn.text import CaptionEncoder

    torch.manual_seed(0)
    ids = torch.tensor([[1, 5, 6, 7, 2, 0]])
    mask = torch.tensor([[True] * 5 + [False]])  # the last position is padding
    changed = ids.clone()
    changed[0, 2] = 9  # the word at position 2
    for causal in (False, True):
        enc = CaptionEncoder(16, 8, 12, layers=2, heads=2, causal=causal)
        a, pooled = enc(ids, mask)
        b, _ = enc(changed, mask)
        moved = (a - b).abs().sum(-1)[0]
        assert (moved[2:5] > 0).all()  # the word itself and the words after it see the change
        assert (moved[:2].sum() == 0) == causal  # the words before it only without the causal mask
        padded = enc(torch.tensor([[1, 5, 6, 7, 2, 3]]), mask)[1]
        assert torch.allclose(pooled, padded, atol=1e-6)  # padding changes nothing, causal or not


def test_composition_head_reads_the_scaled_embedding():
    from promptism.world.targets import SIZE

    model = CLIP(CLIPConfig(compose_outputs=SIZE, compose_scale=16.0, **TINY))
    emb = torch.nn.functional.normalize(torch.randn(3, TINY["embed_dim"]), dim=-1)
    assert torch.allclose(model.composition(emb), model.compose(16.0 * emb))


def test_word_order_reaches_a_fresh_text_embedding(tok):
    """With CLIP's initialisation (token std 0.02) the positions are on the scale of the words;
    with std 1.0 a colour swap moved a fresh caption embedding by ~1e-6 in cosine."""
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, context=28)).eval()
    a = model.encode_text(*tok(["a red star and a green square"]))
    b = model.encode_text(*tok(["a green star and a red square"]))
    assert 1.0 - float((a * b).sum()) > 1e-4


def test_trailing_padding_is_trimmed_without_changing_text_embeddings(tok):
    from promptism.clip.model import trim_padding

    torch.manual_seed(0)
    ids, mask = tok(["a red circle above a blue square", "three stars"])
    short_ids, short_mask = trim_padding(ids, mask)
    assert short_ids.shape[1] == int(mask.sum(1).max()) < ids.shape[1] and short_mask.all(0).any()
    for causal in (False, True):
        m = CLIP(CLIPConfig(vocab_size=tok.vocab_size, text_causal=causal, text_token_shift=True, **TINY)).eval()
        full, _ = m.text(ids, mask)  # the tower itself, on the padded context
        assert torch.allclose(m.encode_text(ids, mask, normalize=False), full, atol=1e-5)
        assert m.text_features(ids, mask)[0].shape[1] == 28  # token features keep the whole context


def test_the_packed_text_tower_matches_the_padded_one_with_its_gradients(tok):
    texts = ["a red circle above a blue square", "three stars", "a small green cross to the left of a star", "a"]
    ids, mask = tok(texts)
    assert len(set(mask.sum(1).tolist())) == 4  # four lengths: the packing has padding to skip
    for causal in (False, True):
        for shift in (False, True):
            torch.manual_seed(1)
            m = CLIP(CLIPConfig(vocab_size=tok.vocab_size, text_causal=causal, text_token_shift=shift, **TINY))
            packed = m.text.embed(ids, mask)
            packed.square().sum().backward()
            grads = {n: p.grad.clone() for n, p in m.text.named_parameters()}
            m.zero_grad()
            padded, _ = m.text(ids, mask)
            padded.square().sum().backward()
            assert torch.allclose(packed, padded, atol=1e-5)
            for n, p in m.text.named_parameters():
                assert torch.allclose(grads[n], p.grad, atol=1e-5), n


def test_negatives_marked_unused_are_not_encoded_and_change_no_loss(tok):
    from promptism.clip.loss import rank_loss

    torch.manual_seed(0)
    m = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY))
    pixels = torch.rand(4, 3, 32, 32) * 2 - 1
    ids, mask = tok(["a red circle", "two blue stars", "a green square above a red star", "a cross"])
    nid, nmask = tok(["a blue circle", "two blue stars", "a green square below a red star", "a cross"])
    valid = torch.tensor([True, False, True, False])
    img, txt, neg_all, scale, _, _ = m(pixels, ids, mask, nid, nmask)
    img2, txt2, neg, _, _, _ = m(pixels, ids, mask, nid, nmask, valid)
    assert torch.allclose(neg[valid], neg_all[valid], atol=1e-6) and (neg[~valid] == 0).all()
    src = torch.tensor([], dtype=torch.long)
    assert torch.isclose(
        contrastive_loss(img, txt, scale, neg_all, valid), contrastive_loss(img2, txt2, scale, neg, valid)
    )
    assert torch.isclose(
        rank_loss(img, txt, neg_all, valid, src, scale, 0.1)[0], rank_loss(img2, txt2, neg, valid, src, scale, 0.1)[0]
    )
    none = m(pixels, ids, mask, nid, nmask, torch.zeros(4, dtype=torch.bool))[2]
    assert none.shape == neg.shape and (none == 0).all()
