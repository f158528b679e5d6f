"""The pretrained-weights guard BNF101, BNF102 and BNF103 share: never rewrite a trained model's layers silently.

A chain whose layers belong to a model that loads weights (bnfix.analysis.weights) is still reported, with the
reason, but its fix becomes unsafe: the checkpoint was trained for the function the code computes today.
"""

from __future__ import annotations

from dataclasses import replace

from bnfix.analysis.chains import Chain
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.weights import weight_sources
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Violation


def guard_pretrained(ctx: ModuleContext, chain: Chain, violation: Violation, change: str) -> Violation:
    """`violation`, with the reason and an unsafe fix when the chain's model loads weights; `change` names the edit."""
    source = weight_sources(ctx).for_layers(step.constructor for step in chain.steps)
    if source is None:
        return violation
    reason = f"{source.reason()}; {change} invalidates them"
    fix = None if violation.fix is None else replace(violation.fix, safety=FixSafety.UNSAFE)
    return Violation(violation.node, f"{violation.message}; {reason}", fix)
