"""The rule catalogue: every rule class, in code order."""

from __future__ import annotations

from bnfix.rules.arguments import PyTorchMomentum, UnknownBNArgument
from bnfix.rules.base import Rule
from bnfix.rules.mode import FrozenBaseInTrainingMode, InferenceInTrainingMode
from bnfix.rules.order import DropoutBeforeBN, RedundantBias, RepeatedBN
from bnfix.rules.placement import BNPlacement
from bnfix.rules.preprocessing import (
    AdaptOnAllData,
    RawEvaluationData,
    ScalerFitBeforeSplit,
    ScalerRefitOnEvaluationData,
    SecondScalerOnEvaluationData,
)
from bnfix.rules.statistics import MovingStatisticsNotConverged, TinyBatches
from bnfix.settings import Settings

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        [
            BNPlacement,
            DropoutBeforeBN,
            RedundantBias,
            RepeatedBN,
            UnknownBNArgument,
            PyTorchMomentum,
            MovingStatisticsNotConverged,
            TinyBatches,
            InferenceInTrainingMode,
            FrozenBaseInTrainingMode,
            ScalerRefitOnEvaluationData,
            SecondScalerOnEvaluationData,
            RawEvaluationData,
            ScalerFitBeforeSplit,
            AdaptOnAllData,
        ],
        key=lambda rule: rule.code,
    )
)


def rule_by_code(code: str) -> type[Rule] | None:
    return next((rule for rule in ALL_RULES if rule.code == code.upper()), None)


def enabled_rules(settings: Settings) -> list[type[Rule]]:
    return [rule for rule in ALL_RULES if settings.is_enabled(rule.code)]
