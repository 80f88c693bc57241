"""The bias probe on the shipped models: what unCLIP and DALL·E mini draw for colour, size and
position when the prompt leaves them out.

    .venv/bin/python benchmarks/probe_models.py     # writes benchmarks/reports/probe/ and probe.md

12 prompts an attribute (benchmarks/data/probe/), 4 pictures a prompt, read by the Scene World's
judge; each compared with the Scene World's training distribution and with uniform.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "reports" / "probe"
GENERATORS = ("unclip", "dalle-mini")
ATTRIBUTES = ("colour", "size", "position")


def main() -> None:
    from promptism.eval.probe import probe, read_prompts, write

    lines = [
        "# Bias probe of the shipped models",
        "",
        "Written by `benchmarks/probe_models.py`: for each attribute, 12 prompts that leave it unstated",
        "(`benchmarks/data/probe/`), 4 pictures a prompt, every object read by the Scene World's judge.",
        "Total variation distance (TV) from the training data's distribution and from uniform; the most",
        "over-drawn value is the one whose generated share most exceeds the training share.",
        "",
        "| generator | attribute | objects | TV from training | TV from uniform | most over-drawn (generated vs training) |",
        "|---|---|---|---|---|---|",
    ]
    for generator in GENERATORS:
        for attribute in ATTRIBUTES:
            r = probe(read_prompts(HERE / "data" / "probe" / f"{attribute}.txt"), attribute, generator, n=4)
            write(r, OUT)
            top = max(r.generated, key=lambda k: r.generated[k] - r.training[k])
            lines.append(
                f"| {generator} | {attribute} | {r.objects} | {r.tv_training:.3f} | {r.tv_uniform:.3f} | "
                f"{top} ({r.generated[top]:.2f} vs {r.training[top]:.2f}) |"
            )
            print(lines[-1], flush=True)
    lines += ["", "Each row's table and chart: `probe/probe-<generator>-<attribute>.{md,png}`.", ""]
    (HERE / "reports" / "probe.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
