"""The caption tokenizer: byte-pair encoding trained on the training captions.

Built on the ``tokenizers`` library (the field's standard) and saved as ``tokenizer.json``
next to the model. Lower-cases, splits punctuation, wraps every caption in [SOS] ... [EOS]
and pads to the model's context length.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

PAD, SOS, EOS, UNK = "[PAD]", "[SOS]", "[EOS]", "[UNK]"
SPECIALS = [PAD, SOS, EOS, UNK]


def words(text: str) -> list[str]:
    """The lower-case words of a text, as vocabulary checks count them."""
    return re.findall(r"[a-z]+", text.lower())


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace(Regex(r"[-_/]"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        show_progress=False,
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789,.;:!?'\"()"),
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SOS} $A {EOS}", special_tokens=[(SOS, tok.token_to_id(SOS)), (EOS, tok.token_to_id(EOS))]
    )
    return tok


class CaptionTokenizer:
    """Captions -> (token ids, attention mask) tensors of a fixed context length."""

    def __init__(self, tokenizer: Tokenizer, context: int):
        self.tok = tokenizer
        self.context = context
        self.pad_id = tokenizer.token_to_id(PAD)
        self.eos_id = tokenizer.token_to_id(EOS)
        if self.pad_id is None or self.eos_id is None:
            raise ValueError("tokenizer.json lacks the [PAD]/[EOS] tokens this model needs")

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def __call__(self, texts: Sequence[str], warn: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        encs = self.tok.encode_batch(list(texts))
        ids = torch.full((len(encs), self.context), self.pad_id, dtype=torch.long)
        for i, e in enumerate(encs):
            seq = e.ids
            if len(seq) > self.context:
                if warn:
                    warnings.warn(
                        f"caption longer than {self.context} tokens, truncated: {texts[i][:80]!r}", stacklevel=2
                    )
                seq = seq[: self.context - 1] + [self.eos_id]  # keep [EOS]: it carries the pooled feature
            ids[i, : len(seq)] = torch.tensor(seq)
        return ids, ids != self.pad_id

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    @classmethod
    def load(cls, path: str | Path, context: int) -> CaptionTokenizer:
        return cls(Tokenizer.from_file(str(path)), context)
