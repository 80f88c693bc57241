"""Responsible generation (docs/responsible.md): what every generator goes through.

- ``policy``: the prompt policy (real people and blocked terms) on normalised text (``text``);
- ``energy``: codecarbon's measurement of each generation and training run;
- ``watermark``: the invisible mark every written picture carries;
- ``credentials``: the signed C2PA manifest every written picture carries.

Artists' opt-out lives with the data it filters (``promptism.data.consent``), the bias probe with
the evaluations (``promptism.eval.probe``).
"""

from .policy import Policy, PolicyRefusal, Refusal, active_policy, find_people, using_policy

__all__ = ["Policy", "PolicyRefusal", "Refusal", "active_policy", "find_people", "using_policy"]
