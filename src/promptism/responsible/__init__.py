"""Responsible generation: the prompt policy (real people and blocked terms, on normalised
text). See docs/responsible.md."""

from .policy import Policy, PolicyRefusal, Refusal, active_policy, find_people, using_policy

__all__ = ["Policy", "PolicyRefusal", "Refusal", "active_policy", "find_people", "using_policy"]
