"""The rule catalogue: every rule's code, the class that implements it, and the text a file must hold for it to apply.

As ruff's table of codes, it names each rule once, so that what needs only codes (configuration, the result cache,
the reports) and the prefilter that decides which rules a file needs never import a rule: each rule module
imports libcst, which is most of an editor call's start-up. A rule's class is imported the first time a file needs
it. tests/test_rule_catalogue.py checks the table against the classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Iterable, NamedTuple

if TYPE_CHECKING:
    from bnfix.rules.base import Rule
    from bnfix.settings import Settings

    ALL_RULES: tuple[type[Rule], ...]  # built on first use, by `__getattr__` below


class CatalogueEntry(NamedTuple):
    code: str
    module: str  # in bnfix.rules
    class_name: str
    # At least one of these must appear in a file's text for the rule to have anything to say there: `needles`
    # anywhere, `words` as a whole word (not inside a longer name).
    needles: tuple[str, ...]
    words: tuple[str, ...] = ()


_BN = ("BatchNormalization",)
# A file must name a scaler class to have one: "Scaler" covers Standard/MinMax/Robust/MaxAbs.
_SCALERS = ("Scaler", "QuantileTransformer", "PowerTransformer", "Normalizer")

CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("BNF101", "placement", "BNPlacement", _BN),
    CatalogueEntry("BNF102", "order", "DropoutBeforeBN", _BN),
    CatalogueEntry("BNF103", "order", "RedundantBias", _BN),
    CatalogueEntry("BNF104", "order", "RepeatedBN", _BN),
    CatalogueEntry("BNF201", "arguments", "UnknownBNArgument", _BN),
    CatalogueEntry("BNF202", "arguments", "PyTorchMomentum", _BN),
    CatalogueEntry("BNF203", "statistics", "MovingStatisticsNotConverged", _BN),
    CatalogueEntry("BNF204", "statistics", "TinyBatches", _BN),
    CatalogueEntry("BNF301", "mode", "InferenceInTrainingMode", ("training=True", "training = True")),
    CatalogueEntry("BNF302", "mode", "FrozenBaseInTrainingMode", ("trainable=False", "trainable = False")),
    CatalogueEntry("BNF401", "preprocessing", "ScalerRefitOnEvaluationData", _SCALERS),
    CatalogueEntry("BNF402", "preprocessing", "SecondScalerOnEvaluationData", _SCALERS),
    CatalogueEntry("BNF403", "preprocessing", "RawEvaluationData", _SCALERS),
    CatalogueEntry("BNF404", "preprocessing", "ScalerFitBeforeSplit", _SCALERS),
    # Keras's `Normalization` layer, not `BatchNormalization`: a BN file need not import the preprocessing rules.
    CatalogueEntry("BNF405", "preprocessing", "AdaptOnAllData", (), ("Normalization",)),
)
RULE_CODES: tuple[str, ...] = tuple(entry.code for entry in CATALOGUE)
_ENTRIES = {entry.code: entry for entry in CATALOGUE}


def rule_class(entry: CatalogueEntry) -> type[Rule]:
    return getattr(importlib.import_module(f"bnfix.rules.{entry.module}"), entry.class_name)


def rule_by_code(code: str) -> type[Rule] | None:
    entry = _ENTRIES.get(code.upper())
    return None if entry is None else rule_class(entry)


def enabled_codes(settings: Settings) -> list[str]:
    return [code for code in RULE_CODES if settings.is_enabled(code)]


def enabled_rules(settings: Settings) -> list[type[Rule]]:
    return [rule_class(_ENTRIES[code]) for code in enabled_codes(settings)]


def mentions_needle(source: str, code: str) -> bool:
    entry = _ENTRIES[code]
    return any(needle in source for needle in entry.needles) or any(_mentions_word(source, word) for word in entry.words)


def _mentions_word(source: str, word: str) -> bool:
    """`word` with no name character just before or after it. A letter after a backslash counts as a boundary:
    in a notebook's JSON, `\\nNormalization` starts a line."""
    start = source.find(word)
    while start != -1:
        end = start + len(word)
        joined_before = start > 0 and _is_name_char(source[start - 1]) and not (start > 1 and source[start - 2] == "\\")
        if not joined_before and not (end < len(source) and _is_name_char(source[end])):
            return True
        start = source.find(word, start + 1)
    return False


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def might_apply(source: str, codes: Iterable[str]) -> bool:
    """The text prefilter: a source that mentions none of the names these rules look for is not parsed at all."""
    return any(mentions_needle(source, code) for code in codes)


def applicable_rules(source: str, codes: Iterable[str]) -> list[type[Rule]]:
    """The prefilter rule by rule: the classes of only the rules whose needles the source mentions.

    On keras-team/keras, 71 of the 169 files that pass the prefilter do so only because a test mentions
    `training=True`; running every rule on them cost as much as parsing the whole repository.
    """
    return [rule_class(_ENTRIES[code]) for code in codes if mentions_needle(source, code)]


def __getattr__(name: str) -> tuple[type[Rule], ...]:
    """`ALL_RULES`, every rule class in code order, imported on first use (PEP 562)."""
    if name != "ALL_RULES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    every = tuple(rule_class(entry) for entry in CATALOGUE)
    globals()["ALL_RULES"] = every
    return every
