"""Staging a script's project for a verify run, and the write guard: no training, no TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bnfix.verify.staging import (
    StagingFailed,
    as_staged,
    linked_files_changed,
    project_root_candidates,
    restage,
    stage_project,
)
from bnfix.verify.write_guard import WriteGuard


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "data").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "objects").write_bytes(b"x" * 10_000)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "data" / "small.csv").write_text("1,2\n")
    (root / "data" / "large.npy").write_bytes(b"\0" * 4096)
    (root / "data" / "weights.h5").write_bytes(b"\0" * 4096)
    (root / "scripts" / "helpers.py").write_text("VALUE = 1\n")
    (root / "scripts" / "train.py").write_text("original\n")
    return root


def stage(project: Path, tmp_path: Path, invocation_dir=None, **limits):
    return stage_project(
        project / "scripts" / "train.py", tmp_path / "stage", "repaired\n", None,
        invocation_dir=invocation_dir, copy_below=1024, **limits,
    )  # fmt: skip


def test_the_project_root_is_found_from_a_marker_above_the_script(project):
    assert project_root_candidates(project / "scripts" / "train.py")[0] == project.resolve()


def test_without_a_marker_the_parent_directory_is_staged_so_that_dot_dot_resolves(tmp_path):
    (tmp_path / "loose" / "code").mkdir(parents=True)
    script = tmp_path / "loose" / "code" / "train.py"
    script.write_text("")
    assert project_root_candidates(script) == [(tmp_path / "loose").resolve(), (tmp_path / "loose" / "code").resolve()]


def test_code_is_copied_large_data_linked_and_the_script_written_as_the_version_under_test(project, tmp_path):
    staged = stage(project, tmp_path)
    root = staged.root
    assert staged.script == root / "scripts" / "train.py" and staged.script.read_text() == "repaired\n"
    assert (project / "scripts" / "train.py").read_text() == "original\n"
    assert (root / "scripts" / "helpers.py").read_text() == "VALUE = 1\n" and not (root / "scripts" / "helpers.py").is_symlink()
    assert (root / "data" / "small.csv").read_text() == "1,2\n" and not (root / "data" / "small.csv").is_symlink()
    assert (root / "data" / "large.npy").is_symlink()
    assert os.readlink(root / "data" / "large.npy") == str(project / "data" / "large.npy")
    assert not (root / "data" / "weights.h5").is_symlink()  # written in place by h5py: always a copy
    assert not (root / ".git").exists()
    assert staged.cwd == root / "scripts"  # verify started outside the project: the script's directory


def test_tool_caches_are_not_mirrored(project, tmp_path):
    for cache in (".bnfix_cache", ".hypothesis", ".pytest_cache"):
        (project / cache).mkdir()
        (project / cache / "entry").write_text("cached\n")
    (project / "data" / ".cache").mkdir()  # a name a script might read its downloads from: kept
    (project / "data" / ".cache" / "mnist.npz").write_text("data\n")
    root = stage(project, tmp_path).root
    assert not any((root / cache).exists() for cache in (".bnfix_cache", ".hypothesis", ".pytest_cache"))
    assert (root / "data" / ".cache" / "mnist.npz").read_text() == "data\n"


def test_the_working_directory_follows_where_verify_started_inside_the_project(project, tmp_path):
    assert stage(project, tmp_path, invocation_dir=project).cwd == tmp_path / "stage" / "project"


def test_copying_more_than_the_limit_is_refused_with_the_way_out(project, tmp_path):
    with pytest.raises(StagingFailed, match="--max-copy-mb"):
        stage(project, tmp_path, max_copy_bytes=1024)


def test_a_project_with_too_many_files_falls_back_to_the_scripts_directory(project, tmp_path):
    for index in range(30):
        (project / "data" / f"file{index}.txt").write_text("")
    staged = stage(project, tmp_path, max_entries=20)
    assert staged.project == (project / "scripts").resolve() and staged.script.read_text() == "repaired\n"


def test_paths_in_messages_are_written_as_the_users(project, tmp_path):
    staged = stage(project, tmp_path)
    message = f"No such file: {staged.root}/data/train.csv"
    assert staged.user_path(message) == f"No such file: {project.resolve()}/data/train.csv"


def test_changes_to_linked_files_are_detected(project, tmp_path):
    staged = stage(project, tmp_path)
    assert linked_files_changed(staged) == []
    (project / "data" / "large.npy").write_bytes(b"\1" * 10)
    assert linked_files_changed(staged) == [str(project / "data" / "large.npy")]


class GuardedRun:
    """The write guard's decisions, called as the interpreter's audit hook would call it."""

    def __init__(self, staged) -> None:
        self.guard = WriteGuard(str(staged.project), str(staged.root))
        self.guard.active = True

    def open(self, path, mode="r"):
        self.guard("open", (str(path), mode, 0))


def test_writing_through_a_link_replaces_it_by_a_private_copy(project, tmp_path):
    staged = stage(project, tmp_path)
    link = staged.root / "data" / "large.npy"
    GuardedRun(staged).open(link, "ab")
    assert not link.is_symlink() and link.read_bytes() == b"\0" * 4096  # appending starts from the user's content
    link.write_bytes(b"changed")
    assert (project / "data" / "large.npy").read_bytes() == b"\0" * 4096


def test_writing_into_the_users_project_by_absolute_path_is_refused(project, tmp_path):
    staged = stage(project, tmp_path)
    run = GuardedRun(staged)
    with pytest.raises(PermissionError, match="never writes to the original"):
        run.open(project / "scripts" / "out.txt", "w")
    with pytest.raises(PermissionError):
        run.guard("os.remove", (str(project / "data" / "small.csv"), None))
    run.open(project / "data" / "small.csv", "r")  # reading is fine
    run.open(staged.root / "out.txt", "w")  # and so is writing in the mirror
    run.open(Path(sys.prefix) / "nowhere.txt", "w")  # outside the project the guard does not decide
    run.guard("os.remove", (str(staged.root / "data" / "large.npy"), None))  # removing a link removes the link


def contents(root: Path, skip: Path) -> dict[str, tuple]:
    """What a script can see of a mirror: every entry's kind, mode, size, file mtime, content or link target."""
    seen = {}
    for path in sorted(root.rglob("*")):
        if path == skip:
            continue
        info = path.lstat()
        detail = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
        mtime = info.st_mtime_ns if path.is_file() and not path.is_symlink() else None  # copies keep the user's
        seen[str(path.relative_to(root))] = (info.st_mode, info.st_size, mtime, detail)
    return seen


def test_a_mirror_left_as_staged_is_restaged_as_a_fresh_stage_of_another_script(project, tmp_path):
    (project / "scripts" / "evaluate.py").write_text("second script\n")
    staged = stage(project, tmp_path)
    assert as_staged(staged)
    evaluate = project / "scripts" / "evaluate.py"
    assert restage(staged, evaluate, "evaluate, repaired\n", None, copy_below=1024)
    fresh = stage_project(evaluate, tmp_path / "fresh", "evaluate, repaired\n", None, copy_below=1024)
    assert staged.script == staged.root / "scripts" / "evaluate.py"
    assert staged.script.read_text() == fresh.script.read_text() == "evaluate, repaired\n"
    assert contents(staged.root, staged.script) == contents(fresh.root, fresh.script)
    assert (staged.root / "scripts" / "train.py").read_text() == "original\n"  # the previous one is the user's again
    assert as_staged(staged) and staged.cwd.relative_to(staged.root) == fresh.cwd.relative_to(fresh.root)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "scripts" / "out.txt").write_text("a result"),  # a new file
        lambda root: (root / "data" / "small.csv").write_text("9,9\n"),  # a copied file written
        lambda root: (root / "data" / "small.csv").chmod(0o600),  # its mode changed
        lambda root: (root / "scripts" / "tmp").mkdir() or (root / "scripts" / "tmp").rmdir(),  # created and removed
        lambda root: (root / "data" / "large.npy").unlink(),  # a link removed
    ],
    ids=["new file", "written", "chmod", "temporary directory", "removed link"],
)
def test_a_mirror_a_run_changed_is_not_as_staged(project, tmp_path, change):
    staged = stage(project, tmp_path)
    change(staged.root)
    assert not as_staged(staged)


def test_a_script_of_another_project_is_not_restaged(project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "setup.py").write_text("")
    (other / "train.py").write_text("other\n")
    staged = stage(project, tmp_path)
    assert not restage(staged, other / "train.py", None, None)
    assert staged.script.read_text() == "repaired\n"
