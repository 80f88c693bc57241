"""The prompt policy: normalised matching, the real-people rule, its research setting, and that
every entry point refuses what it refuses."""

import pytest

from promptism.errors import PromptismError
from promptism.responsible import Policy, PolicyRefusal, find_people, using_policy
from promptism.responsible.text import cased, forms


def test_forms_fold_lookalikes_invisible_characters_and_punctuation():
    assert forms("nud\u0435") == ("nude", "nude")  # Cyrillic е
    assert forms("nu\u200bde")[0] == "nude"
    assert forms("a n.u.d.e woman")[0] == "a nude woman"
    assert forms("blue-green") == ("bluegreen", "blue green")
    assert forms("Beyoncé's ＨＡＴ") == ("beyonces hat", "beyonces hat")
    assert cased("Dr. Jane  Smith's") == "Dr Jane Smiths"


@pytest.mark.parametrize(
    "prompt",
    ["Barack Obama riding a horse", "a photo of Taylor Swift", "obama's dog", "a portrait of president trump",
     "BEYONCE", "a photo of Jane Smith", "queen elizabeth waving", "Dr. Smith's office"],
)  # fmt: skip
def test_real_people_are_refused_by_default(prompt):
    refusal = Policy.load().check(prompt)
    assert refusal is not None and refusal.rule == "real person"
    assert "real person" in refusal.message and refusal.entry not in refusal.message  # why, not which


@pytest.mark.parametrize(
    "prompt",
    ["a rose", "an amazon river", "jack in the box", "a king of hearts card", "a trump card", "a musk ox",
     "Harry Potter flying on a broom", "a sunflower field in the style of van gogh", "a red circle above a blue square"],
)  # fmt: skip
def test_innocent_prompts_pass(prompt):
    assert Policy.load().check(prompt) is None


def test_blocked_terms_match_normalised_text_and_spare_names_that_hold_them():
    research = Policy.load(real_people=False)
    for evasion in ["nud\u0435 woman", "nu\u200bde", "a n.u.d.e woman", "ＮＵＤＥ", "go\u00adre"]:
        assert research.check(evasion).rule == "blocked term", evasion
    assert research.check("Gore Vidal reading") is None  # a name, not the term
    assert research.check("Al Gore gore").rule == "blocked term"  # the term still counts beside it
    assert Policy.load().check("Gore Vidal reading").rule == "real person"
    assert find_people("a painting in the style of van gogh") == []
    assert find_people("van gogh painting sunflowers") == ["Vincent van Gogh"]


def test_policy_file_terms_and_patterns_and_its_errors(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("# comment\nJane Example\nre:\\bgore\\b\n")
    pol = Policy.load(p, real_people=False)
    assert pol.violation("a picture of JANE   example smiling") == "Jane Example"
    assert pol.violation("gore") == "re:\\bgore\\b" and pol.violation("gorey", "a red circle") is None
    assert pol.violation("janeexample") is None
    assert pol.describe() == {"file": str(p), "real_people": "allowed"}
    p.write_text("re:(unclosed\n")
    with pytest.raises(PromptismError, match="line 1"):
        Policy.load(p)
    with pytest.raises(PromptismError, match="not a file"):
        Policy.load(tmp_path / "missing.txt")


def test_the_environment_and_using_policy_choose_the_policy_in_force(monkeypatch):
    from promptism.pipelines.common import check_prompt

    with pytest.raises(PolicyRefusal) as e:
        check_prompt("a photo of Taylor Swift")
    assert e.value.code == "content_policy_violation" and isinstance(e.value, PromptismError)
    with using_policy(Policy.load(real_people=False)):
        assert check_prompt("a photo of Taylor Swift") == "a photo of Taylor Swift"
    monkeypatch.setenv("PROMPTISM_REAL_PEOPLE", "allow")
    assert check_prompt("a photo of Taylor Swift")
    monkeypatch.setenv("PROMPTISM_REAL_PEOPLE", "maybe")
    with pytest.raises(PromptismError, match="PROMPTISM_REAL_PEOPLE"):
        check_prompt("a red circle")


def test_the_cli_refuses_with_a_reason(tmp_path, capsys):
    from promptism.cli import main

    assert main(["generate", "Barack Obama riding a horse", "--out", str(tmp_path / "o")]) == 2
    assert "names a real person" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
