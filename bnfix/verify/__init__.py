"""`bnfix verify`: retrain the original and the repaired script, compare, report.

Parent side (`runner`, `compare`, `report`, `command`) never imports TensorFlow or Keras; only `harness` does,
inside the worker processes it runs in. For `bnfix apply --verify`: `command.verify_repairs(paths, settings_of)`
(one session for many files, each with its own settings) or `command.verification_is_not_worse(path, settings)`.
"""

from __future__ import annotations

__all__ = ["MISSING_KERAS", "keras_installed", "verification_is_not_worse", "verify_repairs"]

MISSING_KERAS = "bnfix verify retrains scripts with Keras, which is not installed here: pip install 'bnfix[verify]'"


def keras_installed() -> bool:
    """Whether the verify workers can import Keras; found without importing it (this process never does)."""
    import importlib.util

    return importlib.util.find_spec("keras") is not None


def verify_repairs(paths, settings_of, **options):
    from bnfix.verify.command import verify_repairs as run

    return run(paths, settings_of, **options)


def verification_is_not_worse(path, settings, **options) -> bool:
    from bnfix.verify.command import verification_is_not_worse as run

    return run(path, settings, **options)
