"""GenEval-world: the prompt lists, scoring a generator, scoring a folder, the reports."""

import json

import numpy as np
import pytest
from PIL import Image

from promptism.world import JudgeError, parse, render
from promptism.world.suite import (
    CATEGORIES,
    DRAW_PROMPTS,
    PROMPTS_PER_CATEGORY,
    SPLITS,
    build,
    evaluate,
    evaluate_dir,
    truth_scene,
    write_reports,
    write_truth,
)


def test_splits_have_enough_unique_parseable_prompts():
    for split in SPLITS:
        prompts = build(split)
        for cat in CATEGORIES:
            texts = [p.text for p in prompts if p.category == cat]
            assert len(texts) == len(set(texts)) == PROMPTS_PER_CATEGORY >= 80
        for p in prompts:
            assert parse(p.text) == p.constraints
            assert p.constraints.mentions_held_out() == (split == "heldout"), p.text
        assert len({p.id for p in prompts}) == len(prompts)


def test_suite_is_fixed():
    assert [p.text for p in build("seen")] == [p.text for p in build.__wrapped__("seen")]


def test_a_fresh_draw_writes_new_prompts_of_the_same_kinds():
    for split in SPLITS:
        earlier = {p.text for p in build(split)}
        for draw in (1, 2):
            fresh = build.__wrapped__(split, draw)
            assert [p.text for p in fresh] == [p.text for p in build(split, draw)]  # seeded: the same every time
            assert not earlier & {p.text for p in fresh}  # neither the suite's nor an earlier draw's
            earlier |= {p.text for p in fresh}
            for cat in CATEGORIES:
                ours = [p for p in fresh if p.category == cat]
                assert len({p.text for p in ours}) == len(ours) == DRAW_PROMPTS
                assert all(p.id.startswith(f"{split}-d{draw}-{cat}-") and p.split == split for p in ours)
            for p in fresh:
                assert parse(p.text) == p.constraints
                assert p.constraints.mentions_held_out() == (split == "heldout"), p.text
    # held-out single objects and colours share 176 texts: later draws run short, and end
    assert not [p for p in build("heldout", 4) if p.category == "colors"]
    with pytest.raises(ValueError, match="draw"):
        build("seen", -1)


def test_evaluate_takes_a_fresh_draw():
    asked = []
    evaluate(lambda t, n, s: asked.append(t) or [Image.new("RGB", (64, 64))] * n, ("seen",), 2, 1, False, draw=1)
    fresh = [p.text for p in build("seen", 1)]
    assert asked and all(t in fresh for t in asked)
    assert len(asked) == 2 * len(CATEGORIES)


def test_categories_ask_what_geneval_asks():
    seen = build("seen")
    by = {c: [p.constraints for p in seen if p.category == c] for c in CATEGORIES}
    assert all(len(c.objects) == 1 and c.objects[0].color is None for c in by["single_object"])
    assert all(len(c.objects) == 2 and not c.relations for c in by["two_objects"])
    assert all(c.objects[0].exact and 2 <= c.objects[0].count <= 4 for c in by["counting"])
    assert all(c.objects[0].color for c in by["colors"])
    assert all(len(c.relations) == 1 for c in by["position"])
    assert all(len({o.color for o in c.objects}) == 2 and not c.relations for c in by["color_attr"])


def _truth_generator(prompt_text, n, seed):
    p = next(p for s in SPLITS for p in build(s) if p.text == prompt_text)
    return [render(truth_scene(p, k), 64) for k in range(n)]


def test_evaluate_scores_a_perfect_and_a_blank_generator():
    perfect = evaluate(_truth_generator, limit=3, progress=False)
    scores = perfect.scores()
    assert set(scores) == set(SPLITS)
    assert all(v == 1.0 for split in scores.values() for v in split.values()), scores
    blank = evaluate(lambda t, n, s: [Image.new("RGB", (64, 64), "white")] * n, limit=2, progress=False)
    assert all(v == 0.0 for split in blank.scores().values() for v in split.values())
    assert len(blank.results) == 2 * 6 * 2 * 4


def test_evaluate_dir_and_reports(tmp_path):
    n = write_truth(tmp_path / "imgs", limit=2, splits=("seen",), progress=False)
    assert n == 2 * 6 * 4
    # break one picture: a blank canvas where a prompt expects objects
    first = build("seen")[0]
    Image.new("RGB", (64, 64), "white").save(tmp_path / "imgs" / first.id / "0.png")
    result = evaluate_dir(tmp_path / "imgs", splits=("seen",), limit=2, progress=False)
    scores = result.scores()["seen"]
    assert scores[first.category] == pytest.approx(7 / 8)
    assert np.mean([scores[c] for c in CATEGORIES]) == pytest.approx(scores["overall"])
    paths = write_reports(result, tmp_path / "report")
    data = json.loads(paths["json"].read_text())
    assert data["scores"]["seen"][first.category] == pytest.approx(7 / 8)
    failed = [r for r in data["results"] if not r["correct"]]
    assert len(failed) == 1 and "found 0" in failed[0]["reason"]
    md = paths["markdown"].read_text()
    assert "| Single object |" in md and first.text in md
    sheet = Image.open(paths["failures"])
    assert sheet.size[0] > 128 and sheet.size[1] > 128


def test_missing_pictures_are_an_error_unless_allowed(tmp_path):
    write_truth(tmp_path, limit=1, splits=("seen",), progress=False)
    victim = build("seen")[0]
    (tmp_path / victim.id / "3.png").unlink()
    (tmp_path / victim.id / "2.png").write_bytes(b"garbage")
    with pytest.raises(JudgeError, match="2 picture"):
        evaluate_dir(tmp_path, splits=("seen",), limit=1, progress=False)
    result = evaluate_dir(tmp_path, splits=("seen",), limit=1, allow_missing=True, progress=False)
    assert len(result.problems) == 2
    assert result.scores()["seen"][victim.category] == pytest.approx(0.5)
    with pytest.raises(JudgeError, match="no folder"):
        evaluate_dir(tmp_path / "nope", progress=False)
