"""Pictures that fool a CLIP: `guide` run on captions drawn as the Scene World's training captions
are, each written as OUT/<i>.png with OUT/<i>.json (the caption and guide's settings). They are
training data for `promptism train clip --adversarial W --adversarial-pictures OUT`
(promptism.clip.adversarial), which teaches a CLIP to prefer true renders to them.

    .venv/bin/python scripts/fooling_pictures.py --clip world --n 200 --out runs/fooling/world-1

With ``--look-matched``, each picture also gets a positive, OUT/<i>-positive.png, named in its
sidecar: guide run on the same caption with the same CLIP, steps and seed, but starting from the
true render the caption was written for (its VQGAN codes plus the same starting noise), so that it
shows the caption in guide's look. Training then asks each caption to prefer its positive to its
fooling picture, which it cannot do by look alone.

    .venv/bin/python scripts/fooling_pictures.py --clip world --n 200 --look-matched --out runs/fooling/look-1

A killed run goes on where it stopped (pictures already written are kept). `--part K/N` splits
the work between N processes writing to the same folder. The pictures are not
watermarked: they are training data, not outputs. Captions are drawn from the training
distribution (promptism.world.sampling), never from GenEval-world's suite, and the judge plays no
part: nothing is picked or filtered.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder of the pictures and their sidecars")
    ap.add_argument("--n", type=int, default=200, help="pictures to make (default: 200)")
    ap.add_argument("--clip", default="world", help="the CLIP guide fools (default: world)")
    ap.add_argument("--steps", type=int, default=100, help="guide's optimisation steps (default: 100)")
    ap.add_argument("--generator", default="vqgan", help="what guide optimises (default: vqgan)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the captions and of guide (default: 0)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: PROMPTISM_THREADS or all)")
    ap.add_argument(
        "--look-matched",
        action="store_true",
        help="also make each picture's positive: guide started from a true render of its caption",
    )
    ap.add_argument(
        "--positive-init-weight",
        type=float,
        default=0.0,
        help="with --look-matched: how strongly a positive is held to its render (guide's --init-weight; default: 0)",
    )
    ap.add_argument(
        "--part",
        default="0/1",
        help="K/N: make only the pictures whose index is K modulo N, so N processes can share the work (default: 0/1)",
    )
    args = ap.parse_args()
    if args.n < 1 or args.steps < 1:
        ap.error("--n and --steps must be at least 1")
    if args.positive_init_weight < 0:
        ap.error("--positive-init-weight must be at least 0")
    try:
        part, parts = (int(x) for x in args.part.split("/"))
    except ValueError:
        ap.error(f"--part must be K/N, got {args.part!r}")
    if not 0 <= part < parts:
        ap.error(f"--part K/N needs 0 <= K < N, got {args.part!r}")
    if args.threads:
        os.environ["PROMPTISM_THREADS"] = str(args.threads)
    import numpy as np
    from tqdm.auto import tqdm

    from promptism.cli.common import torch_threads
    from promptism.guide import guide
    from promptism.world.render import render
    from promptism.world.sampling import sample_example

    torch_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(part, args.n, parts), desc="fooling pictures", unit="picture"):
        side = out / f"{i}.json"
        if side.exists():
            continue
        example = sample_example(np.random.default_rng([args.seed, i]))
        caption = example.caption
        t0 = time.time()
        settings = dict(generator=args.generator, clips=(args.clip,), seed=args.seed + i, steps=args.steps)
        r = guide(caption, **settings)
        r.images[0].save(out / f"{i}.png")
        meta = {"caption": caption, **r.metadata[0], "seconds": round(time.time() - t0, 2)}
        if args.look_matched:
            positive = guide(caption, init=render(example.scene, 64), init_weight=args.positive_init_weight, **settings)
            positive.images[0].save(out / f"{i}-positive.png")
            meta |= {"positive": f"{i}-positive.png", "positive_init_weight": args.positive_init_weight}
        tmp = side.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(side)  # the sidecar last: a picture without one is made again
    return 0


if __name__ == "__main__":
    sys.exit(main())
