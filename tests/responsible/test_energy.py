"""Energy and CO₂ in every picture's provenance: measured by codecarbon, split between the
pictures, said how, and never counted twice."""

import json

import pytest

from promptism.responsible.energy import Meter, Reading, footprinted, grid_setting, stamp
from promptism.responsible.policy import Policy, using_policy

FAST = {"steps": 4, "prior_steps": 4, "upsampler_steps": 2}


def test_generate_records_energy_co2_method_and_policy(models):
    from promptism.pipelines.unclip import generate

    r = generate("a red circle", n=2, seed=0, size=16, models=models, **FAST)
    energy = [m["energy"] for m in r.metadata]
    assert energy[0] == energy[1] and energy[0]["pictures"] == 2
    e = energy[0]
    assert e["wh"] > 0 and e["operation_wh"] == pytest.approx(2 * e["wh"], rel=1e-3)
    assert e["co2_g"] == pytest.approx(e["wh"] * 0.475, rel=0.02)  # the world average by default
    assert e["method"].startswith("codecarbon") and "world average" in e["grid"]
    assert r.metadata[0]["policy"] == {"file": "default", "real_people": "refused"}
    with using_policy(Policy.load(real_people=False)):
        r = generate("a red circle", n=1, seed=0, size=16, models=models, **FAST)
    assert r.metadata[0]["policy"]["real_people"] == "allowed"


def test_a_measurement_inside_another_is_not_counted_twice():
    class R:
        def __init__(self):
            self.metadata = [{}]

    @footprinted
    def inner():
        return R()

    @footprinted
    def outer():
        r = inner()
        assert r.metadata[0]["energy"] == {"measured": False, "note": "another measurement was running (counted there)"}
        return r

    assert outer().metadata[0]["energy"]["wh"] > 0  # the outer span's figure replaces the inner note


def test_readings_add_up_over_resumes_and_survive_json():
    a, b = Reading(0.001, 0.0004, 10, "m", "g"), Reading(0.002, 0.0008, 20, "m", "g")
    s = Reading.from_json(a.add(b).to_json())
    assert s.kwh == pytest.approx(0.003) and s.co2_kg == pytest.approx(0.0012) and s.seconds == 30
    assert a.add(Reading(note="x")) is a and Reading.from_json(None).measured is False
    meter = Meter().start()
    first = meter.lap()
    second = meter.stop()
    assert first.measured and second.measured and second.kwh >= 0


def test_grid_setting(monkeypatch):
    from promptism.errors import PromptismError

    monkeypatch.setenv("PROMPTISM_GRID", "FRA")
    assert grid_setting() == ({"country_iso_code": "FRA"}, "FRA energy mix (codecarbon)")
    monkeypatch.setenv("PROMPTISM_GRID", "52")
    assert grid_setting()[0] == {"force_carbon_intensity_g_co2e_kwh": 52.0}
    for bad in ("france", "-3"):
        monkeypatch.setenv("PROMPTISM_GRID", bad)
        with pytest.raises(PromptismError, match="PROMPTISM_GRID"):
            grid_setting()


def test_energy_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("PROMPTISM_ENERGY", "off")
    r = type("R", (), {"metadata": {}})()
    stamp(r, Meter().start().stop())
    assert r.metadata["energy"] == {"measured": False, "note": "energy measurement off (PROMPTISM_ENERGY=off)"}


def test_report_energy_sums_the_pictures_and_lists_every_shipped_model(tmp_path, capsys):
    from promptism.cli import main
    from promptism.pipelines.provenance import save_png

    reading = Reading(0.00004, 0.000019, 2.0, "codecarbon test", "world")
    for i in range(3):
        from PIL import Image

        save_png(
            Image.new("RGB", (32, 32)), tmp_path / f"{i}.png", {"generator": "unclip", "energy": reading.record(3)}
        )
    assert main(["report", "energy", "--pictures", str(tmp_path), "--no-estimate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["history"]["pictures"] == 3 and report["history"]["wh"] == pytest.approx(0.04, rel=1e-3)
    names = {m["model"] for m in report["models"]}
    assert {"clip-world", "prior-world", "decoder-world", "gan-world", "mini-world"} <= names
    for m in report["models"]:  # --no-estimate: measured figures only
        assert m["how"].startswith("measured") if m["kwh"] is not None else m["how"].startswith("not known")
    assert len(report["published"]) >= 3 and all(p["source"] for p in report["published"])


def test_a_models_training_energy_counts_every_phase_and_estimates_only_what_was_not_measured(tmp_path, monkeypatch):
    from promptism import checkpoint
    from promptism.cli import responsible

    measured = {"kwh": 0.003, "co2_kg": 0.0015, "seconds": 600.0, "method": "codecarbon test"}
    first = {"preset": "world", "train_seconds": 4200.0, "training_energy": measured, "threads": 2, "device": "cpu"}
    second = {"preset": "world-more", "train_seconds": 1000.0, "threads": 2, "device": "cpu"}
    second["training_energy"] = {**measured, "kwh": 0.005, "co2_kg": 0.0025, "seconds": 1000.0}
    for name, cfg in (("mini-two", {**second, "init_phases": [first]}), ("mini-one", second)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setattr(checkpoint, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(responsible, "_power_under_load", lambda threads: (18.0, "test power"))
    monkeypatch.setenv("PROMPTISM_GRID", "500")
    rows = {r["model"]: r for r in responsible._models_energy(estimate=True)}
    assert rows["mini-one"]["kwh"] == pytest.approx(0.005) and rows["mini-one"]["how"].startswith("measured")
    # phase 1 measured 600 of its 4,200 s; the other 3,600 s at 18 W are 0.018 kWh
    two = rows["mini-two"]
    assert two["kwh"] == pytest.approx(0.003 + 0.018 + 0.005) and two["train_seconds"] == 5200.0
    assert two["co2_kg"] == pytest.approx(0.0015 + 0.018 * 0.5 + 0.0025)  # measured CO2e, estimate at 500 g/kWh
    assert two["how"].startswith("estimated") and "phase 1 (world)" in two["how"] and "3600 s" in two["how"]
    unknown = {r["model"]: r for r in responsible._models_energy(estimate=False)}["mini-two"]
    assert unknown["kwh"] is None and unknown["how"].startswith("not known")
