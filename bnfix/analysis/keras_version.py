"""Which Keras the code will run on, for rules whose answer depends on it (BNF201: `renorm`, `fused`...).

In order: `keras-version` from the configuration; the installed `keras` distribution's metadata (read without
importing Keras, which would cost seconds and pull in TensorFlow); an installed `tf-keras`; else the newest Keras.
Code that imports from `tf_keras` runs on tf-keras whatever else is installed.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache

from bnfix.settings import Settings

KerasVersion = tuple[int, int]

# tf-keras follows TensorFlow's numbering (2.x); when only the import says tf-keras, any 2.x answers alike.
TF_KERAS_FALLBACK: KerasVersion = (2, 15)
_VERSION = re.compile(r"(\d+)\.(\d+)")


def parse_version(text: str) -> KerasVersion | None:
    match = _VERSION.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def distribution_version(name: str) -> KerasVersion | None:
    found = _dist_info_version(name)
    if found is not _UNKNOWN:
        return parse_version(found) if found is not None else None
    import importlib.metadata  # ~16 ms to import, ~3 ms a look-up: only for layouts the scan below does not read

    try:
        return parse_version(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return None


_UNKNOWN = object()


def _dist_info_version(name: str) -> str | None | object:
    """The version in the name of the first `NAME-VERSION.dist-info` directory on sys.path (what
    importlib.metadata finds first for a wheel install), None when no path entry has one, or `_UNKNOWN` when a
    path entry holds the distribution in another form (an egg, an .egg-info) that only importlib.metadata reads.

    Every bnfix run asks (the result cache's key holds the versions), and an editor's call is a few hundred ms."""
    wanted = _normalized(name)
    for entry in _search_path():
        try:
            children = os.listdir(entry or ".")
        except OSError:
            continue
        found = []
        for child in children:
            stem, dot, suffix = child.rpartition(".")
            if dot and suffix in ("dist-info", "egg-info", "egg"):
                project, _, version = stem.partition("-")
                if _normalized(project) == wanted:
                    found.append((suffix, version))
        if found:  # one wheel's dist-info is the common case; anything else is importlib.metadata's to decide
            (suffix, version), *others = found
            return version if suffix == "dist-info" and version and not others else _UNKNOWN
    return None


def _search_path() -> list[str]:
    return sys.path


def _normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "_", project).lower()


@lru_cache(maxsize=1)
def installed_keras_version() -> KerasVersion | None:
    """The installed Keras: `keras` (Keras 3, or Keras 2 alongside TensorFlow < 2.16), else `tf-keras`."""
    return distribution_version("keras") or distribution_version("tf-keras")


def target_keras_version(settings: Settings, qualified_name: str | None = None) -> KerasVersion | None:
    """The Keras version to check against; None means the newest release.

    `qualified_name` is what the checked reference resolves to (`tf_keras.layers.BatchNormalization`).
    """
    if settings.keras_version is not None:
        return settings.keras_version
    if qualified_name is not None and qualified_name.split(".")[0] == "tf_keras":
        return distribution_version("tf-keras") or TF_KERAS_FALLBACK
    return installed_keras_version()


def is_keras2(version: KerasVersion | None) -> bool:
    """tf.keras 2.x / tf-keras: the Keras that still has `fused`, `virtual_batch_size` and `adjustment`."""
    return version is not None and version[0] < 3


def at_least(version: KerasVersion | None, minimum: KerasVersion) -> bool:
    return version is None or version >= minimum


def describe(version: KerasVersion | None) -> str:
    if version is None:
        return "the newest Keras"
    return f"Keras {version[0]}.{version[1]}"
