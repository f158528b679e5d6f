"""Which arrays are training data, which are evaluation data, and which are all the data before a split.

The evidence is weighed in the order the structure of the code gives it, names last: a position among
`train_test_split`'s outputs (even: training, odd: evaluation), being split (all the data), reaching `model.fit`
(training) or `validation_data`/`evaluate`/`predict` (evaluation), being carved out of an array whose role is known,
and only then a name such as `x_test`, `X_val`, `testX`. An array sliced into a training and an evaluation part
(`train = data[:n]`, `test = data[n:]`) is all the data too.
"""

from __future__ import annotations

import enum
import re
from functools import cached_property

from bnfix.analysis.dataflow_values import Array, Flow, Root


class Role(enum.Enum):
    TRAIN = "training"
    EVAL = "evaluation"
    WHOLE = "all"  # training and evaluation data together


_TRAIN_WORDS = frozenset({"train", "training", "tr"})
_EVAL_WORDS = frozenset({"test", "testing", "val", "valid", "validation", "eval", "evaluation", "holdout", "te"})
# Words that say how an array was scaled, not what it holds: `x_train_scaled` and `x_test` are counterparts.
_SCALING_WORDS = frozenset({
    "scaled", "scale", "std", "standardized", "standardised", "norm", "normalized", "normalised", "sc", "s",
    "transformed", "minmax", "raw",
})
_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def name_tokens(name: str) -> list[str]:
    """`X_train` -> [x, train]; `trainX` -> [train, x]; `xtest` -> [x, test]."""
    tokens = []
    for token in (t.lower() for t in _TOKENS.findall(name)):
        if token[:1] in ("x", "y") and (token[1:] in _TRAIN_WORDS or token[1:] in _EVAL_WORDS) and len(token) > 3:
            tokens += [token[0], token[1:]]
        else:
            tokens.append(token)
    return tokens


def role_from_name(name: str) -> Role | None:
    tokens = set(name_tokens(name))
    train, evaluation = bool(tokens & _TRAIN_WORDS), bool(tokens & _EVAL_WORDS)
    if train != evaluation:
        return Role.TRAIN if train else Role.EVAL
    return None


def name_stem(name: str) -> tuple[str, ...]:
    """What a name says the array holds, without its role and scaling words: `X_train_scaled` -> (x,)."""
    return tuple(t for t in name_tokens(name) if t not in _TRAIN_WORDS | _EVAL_WORDS | _SCALING_WORDS)


class Roles:
    """Role resolution for one flow."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    @cached_property
    def _evidence(self) -> dict[Root, Role]:
        found: dict[Root, Role] = {}
        for event in self.flow.model_events:
            if isinstance(event.data, Array):
                role = Role.TRAIN if event.method == "fit" else Role.EVAL
                if found.get(event.data.root) is not Role.TRAIN:  # predicting on training data keeps it training data
                    found[event.data.root] = role
        return found

    @cached_property
    def _split_inputs(self) -> set[Root]:
        return {value.root for split in self.flow.splits for value in split.inputs if isinstance(value, Array)}

    @cached_property
    def _children(self) -> dict[Root, list[Root]]:
        children: dict[Root, list[Root]] = {}
        for root in self.flow.roots:
            if root.parent is not None and root.split is None:
                children.setdefault(root.parent, []).append(root)
        return children

    def own(self, root: Root) -> Role | None:
        """The role `root` has by itself: split position, being split, model calls, name."""
        if root.split is not None and root.position is not None:
            if root.position % 2:
                return Role.EVAL
            source = root.parent
            return Role.EVAL if source is not None and self.own(source) is Role.EVAL else Role.TRAIN
        if root in self._split_inputs:
            return Role.WHOLE
        if root in self._evidence:
            return self._evidence[root]
        return None

    def role(self, root: Root) -> Role | None:
        own = self.own(root)
        if own is not None:
            return own
        if root.parent is not None:
            inherited = self.role(root.parent)
            if inherited in (Role.TRAIN, Role.EVAL):
                return inherited
        by_name = role_from_name(root.name)
        if by_name is not None:
            return by_name
        parts = {self.own(child) or role_from_name(child.name) for child in self._children.get(root, [])}
        return Role.WHOLE if {Role.TRAIN, Role.EVAL} <= parts else None

    def of(self, value: object) -> Role | None:
        return self.role(value.root) if isinstance(value, Array) else None


def counterparts(first: Root, second: Root) -> bool | None:
    """Are these the same kind of array (features vs features, not x vs y)? None when the code does not say."""
    if first is second:
        return True
    if first.split is not None and first.split is second.split:
        return first.position // 2 == second.position // 2  # type: ignore[operator]
    if role_from_name(first.name) and role_from_name(second.name):
        return name_stem(first.name) == name_stem(second.name)
    return None
