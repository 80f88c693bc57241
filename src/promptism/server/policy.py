"""The prompt policy: blocked terms and patterns, read from a text file.

One entry per line; blank lines and lines starting with # are ignored.

    Jane Example           a term: matched as whole words, any case
    re:\\bnaked\\b          a regular expression (Python syntax), any case

A prompt that matches is refused with OpenAI's ``content_policy_violation`` error, and the server
logs which entry matched (the client is not told, so the list cannot be probed term by term).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptismError

DEFAULT_POLICY = Path(__file__).with_name("default_policy.txt")


@dataclass(frozen=True)
class Policy:
    entries: tuple[tuple[str, re.Pattern], ...]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        path = Path(path) if path else DEFAULT_POLICY
        if not path.is_file():
            raise PromptismError(f"policy file {str(path)!r} is not a file")
        entries = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("re:"):
                try:
                    pattern = re.compile(line[3:], re.IGNORECASE)
                except re.error as e:
                    raise PromptismError(f"{path.name} line {number}: bad regular expression: {e}") from None
            else:
                words = r"\s+".join(re.escape(w) for w in line.split())
                pattern = re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
            entries.append((line, pattern))
        return cls(tuple(entries), str(path))

    def violation(self, *texts: str) -> str | None:
        """The entry a text matches, or None."""
        for text in texts:
            if not text:
                continue
            for entry, pattern in self.entries:
                if pattern.search(text):
                    return entry
        return None
