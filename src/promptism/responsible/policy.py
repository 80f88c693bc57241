"""The prompt policy: what Promptism refuses to draw, in every entry point.

Two rules, both matched on normalised text (``promptism.responsible.text``: NFKC, invisible
characters removed, look-alike letters folded, punctuation inside words joined):

- **Real people** (on by default, DALL·E 2's rule): a prompt that names a real person is refused.
  A person is found by the bundled list of public figures (``data/public_figures.txt``: full
  names, and other names they go by, any case, possessives included), by an honorific before a
  listed person's name ("president trump", "queen elizabeth"), and by the shape of a name: a
  capitalised first name and surname from Faker's name lists ("Jane Smith"), or an honorific
  before a capitalised name ("Dr. Smith"). ``real_people=False`` (``PROMPTISM_REAL_PEOPLE=allow``,
  ``serve --allow-real-people``) turns it off for research use; provenance records which.
- **Blocked terms**, from a policy file, one entry per line; blank lines and lines starting with
  ``#`` are ignored::

      Jane Example           a term: matched as whole words, any case
      re:\\bnaked\\b          a regular expression (Python syntax) over the lower-case text

  A person's name is taken out of the text before terms are matched, so "Gore Vidal reading"
  does not trip a ``gore`` entry (it names a real person, which is the other rule's call).

A refused prompt raises ``PolicyRefusal`` (a ``PromptismError``): the CLI prints why, the server
answers OpenAI's ``content_policy_violation``. Which entry matched is logged, never told, so the
lists cannot be probed entry by entry.
"""

from __future__ import annotations

import contextvars
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import PromptismError
from .text import cased, forms

DATA = Path(__file__).with_name("data")
DEFAULT_POLICY = DATA / "default_policy.txt"
PUBLIC_FIGURES = DATA / "public_figures.txt"
FICTION = DATA / "fictional_characters.txt"

# words that say a person follows ("president trump", "dr. smith")
HONORIFICS = (
    "president", "vice president", "senator", "governor", "congressman", "congresswoman", "mayor",
    "chancellor", "prime minister", "minister", "ambassador", "king", "queen", "prince", "princess",
    "emperor", "empress", "pope", "saint", "mr", "mrs", "ms", "miss", "mister", "dr", "doctor",
    "professor", "prof", "sir", "dame", "lord", "lady", "general", "chairman", "judge", "justice",
    "coach", "sheikh", "ayatollah",
)  # fmt: skip
# name words too common to mark a listed person on their own after an honorific
_NOT_NAMES = {"of", "the", "de", "da", "del", "van", "von", "der", "al", "bin", "le", "la", "jr", "sr", "ii", "iii"}

REAL_PERSON_MESSAGE = (
    "Your request was rejected as a result of our safety system: the prompt names a real person, "
    "and Promptism does not draw real people (DALL·E 2's rule; see docs/responsible.md for the "
    "research setting that turns this off)."
)
BLOCKED_MESSAGE = (
    "Your request was rejected as a result of our safety system: the prompt is not allowed by this content policy."
)


@dataclass(frozen=True)
class Refusal:
    rule: str  # "real person" or "blocked term"
    entry: str  # what matched: for the log, not for the client
    message: str


class PolicyRefusal(PromptismError):
    """A prompt the policy refuses; ``refusal`` says by which rule and entry."""

    code = "content_policy_violation"

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def _phrase(words: str) -> str:
    """A regular expression for a normalised phrase as whole words (any spacing, a possessive s)."""
    return r"\s+".join(re.escape(w) for w in words.split()) + "s?"


def _alternation(phrases) -> re.Pattern:
    ordered = sorted(set(phrases), key=len, reverse=True)  # the longest name wins
    return re.compile(r"(?<!\w)(?:" + "|".join(_phrase(p) for p in ordered) + r")(?!\w)")


@dataclass(frozen=True)
class _People:
    listed: re.Pattern  # a listed person's name or alias, normalised
    titled: re.Pattern  # an honorific before a word of a listed person's name
    shape: re.Pattern  # a capitalised first name and surname, or an honorific and a capitalised name
    full: dict[str, str]  # each normalised name or alias -> the full name it stands for
    first_names: frozenset[str]
    last_names: frozenset[str]
    fiction: frozenset[str]  # characters whose names have a person's shape ("Harry Potter")


def _honorifics(case=str.lower) -> str:
    return "|".join(case(h).replace(" ", r"\s+") for h in HONORIFICS)


def _entries(path: Path) -> list[str]:
    """A list file's entries: its lines but blank ones and # comments."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def _people() -> _People:
    full = {}
    for line in _entries(PUBLIC_FIGURES):
        names = [n.strip() for n in line.split("|") if n.strip()]
        for name in names:
            for form in forms(name):
                full.setdefault(form, names[0])
    # an honorific marks a person before a listed person's surname ("president trump"); first names
    # are too common ("queen anne's lace"), and the listed "Queen Elizabeth" and the like cover those
    words = sorted({form.split()[-1] for form in full if len(form.split()) > 1} - _NOT_NAMES)
    titled = re.compile(rf"(?<!\w)(?:{_honorifics()})\s+(?:" + "|".join(map(re.escape, words)) + r")s?(?!\w)")
    cap = r"[A-Z][a-z]+"
    shape = re.compile(
        rf"(?<!\w)(?:(?P<first>{cap})\s+(?:[A-Z]\s+)?(?P<last>{cap})|(?:{_honorifics(str.title)})\s+(?P<named>{cap}))(?!\w)"
    )
    from faker.providers.person.en import Provider as English
    from faker.providers.person.en_US import Provider as American

    return _People(
        _alternation(full),
        titled,
        shape,
        full,
        frozenset(English.first_names) | frozenset(American.first_names),
        frozenset(English.last_names) | frozenset(American.last_names),
        frozenset(_entries(FICTION)),
    )


# a name after these words names whose style or work is meant, not a person to depict
_ATTRIBUTION = re.compile(
    r"(?:style|manner|school|works?|spirit) of\s*$|"
    r"(?:painted|drawn|photographed|sculpted|illustrated|inspired|designed|art|artwork|painting|photo|photograph) by\s*$"
)


def _scan(text: str) -> tuple[list[tuple[str, bool]], tuple[str, ...]]:
    """The people a text names, each as (name, depicted: False after "in the style of" and the
    like), and the text's normalised forms with those names blanked out."""
    people = _people()
    found, masked = [], []
    for form in forms(text):
        spans = []
        for pattern in (people.listed, people.titled):
            for m in pattern.finditer(form):
                name = m.group(0)
                full = people.full.get(name) or people.full.get(name[:-1], name)
                found.append((full, not _ATTRIBUTION.search(form[: m.start()])))
                spans.append(m.span())
        for start, end in sorted(spans, reverse=True):
            form = form[:start] + "_" + form[end:]
        masked.append(form)
    written = cased(text)
    if written.isupper():  # "A PHOTO OF JANE SMITH": read the name's shape in title case
        written = written.title()
    for m in people.shape.finditer(written):
        first, last, named = m.group("first", "last", "named")
        if m.group(0) in people.fiction:
            continue
        if (first in people.first_names and last in people.last_names) or (
            named in people.first_names or named in people.last_names
        ):
            found.append((m.group(0), not _ATTRIBUTION.search(forms(written[: m.start()])[0] + " ")))
            name = re.escape(forms(m.group(0))[0])
            masked = [re.sub(rf"(?<!\w){name}(?!\w)", "_", f, count=1) for f in masked]
    return list(dict.fromkeys(found)), tuple(masked)


def find_people(text: str) -> list[str]:
    """The real people a text names to be depicted (full names from the list, or as written)."""
    return list(dict.fromkeys(name for name, depicted in _scan(text)[0] if depicted))


@dataclass(frozen=True)
class Policy:
    entries: tuple[tuple[str, re.Pattern], ...]
    source: str
    real_people: bool = True  # refuse prompts naming real people

    @classmethod
    def load(cls, path: str | Path | None = None, real_people: bool = True) -> Policy:
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
                pattern = re.compile(r"(?<!\w)(?:" + "|".join(_phrase(f) for f in set(forms(line))) + r")(?!\w)")
            entries.append((line, pattern))
        return cls(tuple(entries), str(path), real_people)

    def describe(self) -> dict:
        """What provenance records of the policy a picture was drawn under."""
        source = "default" if Path(self.source) == DEFAULT_POLICY else self.source
        return {"file": source, "real_people": "refused" if self.real_people else "allowed"}

    def check(self, *texts: str) -> Refusal | None:
        """Why the texts are refused, or None when they are allowed."""
        for text in texts:
            if not text:
                continue
            people, masked = _scan(text)
            depicted = [name for name, shown in people if shown]
            if depicted and self.real_people:
                return Refusal("real person", depicted[0], REAL_PERSON_MESSAGE)
            for form in masked:
                for entry, pattern in self.entries:
                    if pattern.search(form):
                        return Refusal("blocked term", entry, BLOCKED_MESSAGE)
        return None

    def violation(self, *texts: str) -> str | None:
        """The entry a text matches, or None."""
        refusal = self.check(*texts)
        return None if refusal is None else refusal.entry

    def enforce(self, *texts: str) -> None:
        """Raise ``PolicyRefusal`` when the texts are refused."""
        refusal = self.check(*texts)
        if refusal is not None:
            raise PolicyRefusal(refusal)


_ACTIVE: contextvars.ContextVar[Policy | None] = contextvars.ContextVar("promptism_policy", default=None)


def _env_real_people() -> bool:
    value = os.environ.get("PROMPTISM_REAL_PEOPLE", "refuse").strip().lower()
    if value not in ("refuse", "allow"):
        raise PromptismError(f"PROMPTISM_REAL_PEOPLE is 'refuse' (the default) or 'allow', not {value!r}")
    return value == "refuse"


@lru_cache(maxsize=4)
def _default(path: str | None, real_people: bool) -> Policy:
    return Policy.load(path, real_people)


def active_policy() -> Policy:
    """The policy in force: the one set by ``using_policy`` in this context, else the one the
    environment names (``PROMPTISM_POLICY``: a policy file; ``PROMPTISM_REAL_PEOPLE``: refuse or allow)."""
    policy = _ACTIVE.get()
    if policy is not None:
        return policy
    return _default(os.environ.get("PROMPTISM_POLICY") or None, _env_real_people())


@contextmanager
def using_policy(policy: Policy):
    """Make ``policy`` the one in force for what runs in this context (the server's jobs)."""
    token = _ACTIVE.set(policy)
    try:
        yield policy
    finally:
        _ACTIVE.reset(token)
