"""The training budget `bnfix verify` applies, identically, to every run of both versions of a script.

`--epochs N` caps the epochs of every `fit`, `--steps N` its `steps_per_epoch`, and `--max-samples N` replaces every
array passed to `fit`, `evaluate`, `predict` and the `*_on_batch` methods that has more than N rows by the same fixed
N rows (`fixed_rows`): the rows depend only on the array's length, never on the seed or the version, so x, y and
sample weights stay aligned and both versions see the same data. A tf.data dataset, a generator or a PyDataset keeps
its first ceil(N / batch size) batches every epoch (input_cap.py). The child also sees `BNFIX_VERIFY=1` (and
`BNFIX_VERIFY_EPOCHS`, ...), so a script can shorten itself.

This module is shared by the parent and the child; it imports numpy only inside `fixed_rows` (the child's side).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Fixed, and independent of the run's seed, so that every seed and both versions get the same rows.
ROW_SELECTION_SEED = 20260
ENVIRONMENT_FLAG = "BNFIX_VERIFY"


@dataclass(frozen=True)
class Budget:
    epochs: int | None = None  # cap on every fit's epochs
    steps: int | None = None  # cap on every fit's steps_per_epoch
    max_samples: int | None = None  # rows kept of every array passed to fit / evaluate / predict / *_on_batch

    @property
    def active(self) -> bool:
        return any(value is not None for value in (self.epochs, self.steps, self.max_samples))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Budget":
        values = values or {}
        return cls(**{key: (int(values[key]) if values.get(key) is not None else None) for key in ("epochs", "steps", "max_samples")})

    def describe(self) -> str:
        if not self.active:
            return "none: every script trains with its own epochs, steps and data"
        parts = []
        if self.epochs is not None:
            parts.append(f"at most {self.epochs} epoch{'s' if self.epochs != 1 else ''} per fit")
        if self.steps is not None:
            parts.append(f"at most {self.steps} steps per epoch")
        if self.max_samples is not None:
            parts.append(f"at most {self.max_samples} rows of every array (of a dataset or generator: its first batches)")
        return ", ".join(parts)

    def environment(self) -> dict[str, str]:
        """What the child sees: BNFIX_VERIFY=1 always, and each cap that is set."""
        env = {ENVIRONMENT_FLAG: "1"}
        for key, value in self.as_dict().items():
            if value is not None:
                env[f"{ENVIRONMENT_FLAG}_{key.upper()}"] = str(value)
        return env


def fixed_rows(length: int, keep: int):
    """The sorted indices of the `keep` rows kept out of `length`: the same for every call with the same length."""
    import numpy as np

    if keep >= length:
        return np.arange(length)
    chosen = np.random.default_rng(ROW_SELECTION_SEED).choice(length, size=keep, replace=False)
    return np.sort(chosen)


def capped_epochs(requested: int, initial_epoch: int, cap: int | None) -> int:
    """Keras's `epochs` is the index to stop at: a cap counts from `initial_epoch`."""
    if cap is None:
        return requested
    return min(requested, initial_epoch + cap)
