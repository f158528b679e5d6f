"""Stage a script for one verify run: its project, in a temporary tree, so that it runs as it does by hand.

A training script reads `../data/x.npy`, `Path(__file__).parent / "data"`, or a path relative to the project root
(run from there as `python scripts/train.py`). Each run therefore gets a mirror of the script's *project*, not only
of its directory: the project root is the nearest ancestor holding `.git`, `pyproject.toml`, `setup.py`,
`setup.cfg` or `requirements.txt`, else the script's parent directory (so `../data` resolves), else its own
directory. In the mirror

- every directory is a real, new directory (whatever the script creates lands in the mirror, which is deleted
  after the run);
- code and other small files are copied; large files are symbolic links to the user's files (no gigabytes copied
  per run); files that compiled code writes in place (HDF5, Keras archives, checkpoints) are always copied;
- the script is written as the version under test (original or repaired), at its own place in the tree, so
  `__file__`, `sys.argv[0]` and imports of its sibling modules mean what they mean by hand;
- the working directory is where `bnfix verify` was started, mirrored, when that is inside the project (as
  `python scripts/train.py` from the root), else the script's directory.

write_guard.py keeps the run's writes off the links' targets. Version-control, virtual-environment and cache
directories are not staged.

A mirror that a run left exactly as it was staged (no entry created, removed or changed: `as_staged`) serves the
next run of any script of the same project (`restage`): only the script under test is put back and the next one
written, which is what a fresh mirror would differ in. Staging this repository's ~200 files cost ~60 ms of CPU and
~110 ms per run, on the parent's core, between two runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bnfix.sources.files import SKIPPED_DIRECTORIES, SourceText

PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt")
COPY_BELOW_BYTES = 1 << 20  # smaller files are copied, larger ones linked
MAX_STAGED_ENTRIES = 20_000  # a project root with more files than this is not mirrored; the script's directory is
# h5py, TensorFlow's checkpoints and savers write these from C code, which the write guard cannot see: never link them
WRITTEN_IN_PLACE = (".h5", ".hdf5", ".keras", ".ckpt", ".index", ".pb", ".tflite", ".pt", ".pth", ".joblib", ".pkl")


class StagingFailed(Exception):
    """The script's project cannot be staged (too large, unreadable)."""


@dataclass
class Stage:
    project: Path  # the user's project root
    root: Path  # its mirror
    script: Path  # the script in the mirror
    cwd: Path  # the working directory of the run, in the mirror
    links: dict[str, tuple[int, int]] = field(default_factory=dict)  # linked target -> (size, mtime_ns) when staged
    copied_bytes: int = 0
    candidates: list[Path] = field(default_factory=list)  # the project roots considered (project_root_candidates)
    state: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # tree_state when staged, script aside

    def user_path(self, text: str) -> str:
        """`text` with paths in the mirror written as the user's own paths (for error messages)."""
        for staged in {str(self.root), os.path.realpath(self.root)}:
            text = text.replace(staged, str(self.project))
        return text


def project_root_candidates(script: Path) -> list[Path]:
    """Where the script's project may start, best first; the script's own directory is always last."""
    directory = script.resolve().parent
    stops = {Path("/"), Path.home().resolve(), Path(tempfile.gettempdir()).resolve()}
    for ancestor in [directory, *directory.parents]:
        if ancestor in stops:
            break
        if any((ancestor / marker).exists() for marker in PROJECT_MARKERS):
            return [ancestor] if ancestor == directory else [ancestor, directory]
    parent = directory.parent
    return [parent, directory] if parent not in stops and parent != directory else [directory]


# Tool caches no training script reads, on top of what discovery skips: bnfix's own result cache is in every project
# bnfix checks, and with Hypothesis's database it was 555 of the 755 files mirrored per run of a fixture here.
TOOL_CACHES = frozenset({".bnfix_cache", ".hypothesis", ".benchmarks"})


def _skipped(name: str) -> bool:
    return name in SKIPPED_DIRECTORIES or name in TOOL_CACHES or name.endswith(".egg-info")


def _plan_tree(root: Path, max_entries: int) -> list[tuple[str, list[str], list[str]]] | None:
    """os.walk of `root` without the skipped directories; None when it holds more than `max_entries` entries."""
    walked, entries = [], 0
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        entries += len(dirs) + len(files)
        if entries > max_entries:
            return None
        walked.append((directory, list(dirs), sorted(files)))
    return walked


def stage_project(
    script: Path,
    destination: Path,
    source: str | None,
    text: SourceText | None,
    *,
    invocation_dir: Path | None = None,
    max_copy_bytes: int = 200 * 1024 * 1024,
    copy_below: int = COPY_BELOW_BYTES,
    max_entries: int = MAX_STAGED_ENTRIES,
) -> Stage:
    """Mirror the script's project under `destination` and write `source` (or the script as it is) in place."""
    script = script.resolve()
    candidates = project_root_candidates(script)
    for project in candidates:
        walked = _plan_tree(project, max_entries)
        if walked is not None:
            break
    else:
        raise StagingFailed(
            f"{script.parent} holds more than {max_entries} files; move the script to a smaller directory"
        )
    root = destination / (project.name or "project")
    stage = Stage(project, root, root / script.relative_to(project), root, candidates=candidates)
    for directory, dirs, files in walked:
        relative = Path(directory).relative_to(project)
        (root / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            original = Path(directory) / name
            staged = root / relative / name
            if original == script:
                continue
            _stage_file(original, staged, stage, copy_below, max_copy_bytes)
    _write_script(stage, script, source, text, invocation_dir)
    return stage


def restage(
    stage: Stage,
    script: Path,
    source: str | None,
    text: SourceText | None,
    *,
    invocation_dir: Path | None = None,
    max_copy_bytes: int = 200 * 1024 * 1024,
    copy_below: int = COPY_BELOW_BYTES,
) -> bool:
    """Make a mirror that `as_staged` found untouched the mirror of `script` (`source`, or as it is): what
    `stage_project` would give, without copying the project again. False when `script` belongs to another project
    (then stage afresh)."""
    script = script.resolve()
    if project_root_candidates(script) != stage.candidates or not script.is_relative_to(stage.project):
        return False
    target = stage.root / script.relative_to(stage.project)
    if target != stage.script:  # the previous script under test goes back to what the project holds
        previous = stage.project / stage.script.relative_to(stage.root)
        stage.script.unlink()
        if previous.exists():
            _stage_file(previous, stage.script, stage, copy_below, max_copy_bytes)
        stage.script = target
    _write_script(stage, script, source, text, invocation_dir)
    return True


def _write_script(stage: Stage, script: Path, source: str | None, text: SourceText | None, invocation_dir) -> None:
    data = source.encode("utf-8") if text is None and source is not None else None
    if source is not None and text is not None:
        data = text.encode(source)
    stage.script.parent.mkdir(parents=True, exist_ok=True)
    stage.script.write_bytes(data if data is not None else script.read_bytes())
    stage.cwd = _working_directory(stage, invocation_dir)
    stage.state = tree_state(stage.root, stage.script)


def tree_state(root: Path, script: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime_ns) of every entry under `root` but `script`: any entry a run created, removed, replaced
    or wrote to shows (a directory's mtime moves when an entry is added or removed, even a temporary one)."""
    state: dict[str, tuple[int, int, int]] = {}
    skip = str(script)
    for directory, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            path = os.path.join(directory, name)
            if path != skip:
                info = os.lstat(path)
                state[path] = (info.st_mode, info.st_size, info.st_mtime_ns)
    info = os.lstat(root)
    state[str(root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return state


def as_staged(stage: Stage) -> bool:
    """Whether the run left the mirror exactly as it was staged (the script under test aside): then `restage` may
    reuse it for the next run."""
    try:
        return tree_state(stage.root, stage.script) == stage.state
    except OSError:  # an entry vanished while it was read
        return False


def _stage_file(original: Path, staged: Path, stage: Stage, copy_below: int, max_copy_bytes: int) -> None:
    try:
        info = original.lstat()
    except OSError:
        return
    if original.is_symlink():  # the user's own link: keep it a link, to what it points to
        try:
            staged.symlink_to(os.readlink(original))
        except OSError:
            pass
        target = os.path.realpath(original)
        if os.path.isfile(target):
            stat = os.stat(target)
            stage.links[target] = (stat.st_size, stat.st_mtime_ns)
        return
    if info.st_size < copy_below or original.name.lower().endswith(WRITTEN_IN_PLACE):
        stage.copied_bytes += info.st_size
        if stage.copied_bytes > max_copy_bytes:
            raise StagingFailed(
                f"staging {stage.project} would copy more than {max_copy_bytes / 2**20:.3g} MB (model files and small "
                "files are copied for every run); raise --max-copy-mb or move the script to a smaller directory"
            )
        shutil.copy2(original, staged)
        return
    staged.symlink_to(original)
    stage.links[str(original)] = (info.st_size, info.st_mtime_ns)


def _working_directory(stage: Stage, invocation_dir: Path | None) -> Path:
    if invocation_dir is not None:
        try:
            relative = invocation_dir.resolve().relative_to(stage.project)
        except ValueError:
            relative = None
        if relative is not None and (stage.root / relative).is_dir():
            return stage.root / relative
    return stage.script.parent


def linked_files_changed(stage: Stage) -> list[str]:
    """The user's files, linked into the mirror, that changed during the run (written by compiled code). Their
    state now is the reference for the next run in this mirror (restage), so that each run reports its own."""
    changed = []
    for target, (size, mtime) in stage.links.items():
        try:
            info = os.stat(target)
        except OSError:
            changed.append(target)
            continue
        if (info.st_size, info.st_mtime_ns) != (size, mtime):
            changed.append(target)
            stage.links[target] = (info.st_size, info.st_mtime_ns)
    return changed
