"""Scene-World evaluation of the models: CLIP's binding probes, zero-shot and retrieval (clip.py).

The GenEval-world suite and its judge live in ``promptism.world``; the benchmarks under
``benchmarks/`` run these measures and write the reports.
"""
