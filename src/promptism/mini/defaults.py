"""`promptism mini`'s limits and default settings, torch-free, so that the command line states them
without importing the model code."""

MAX_GRID, MAX_CANDIDATES = 4, 64
# rerank_clip: the three shipped CLIPs, their cosines summed (experiments/mini/sample-rerank-trio.toml)
DEFAULTS = dict(
    candidates=25,
    grid=3,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    cond_scale=3.0,
    rerank_clip=("world", "world-bind2", "world-v1"),
)
