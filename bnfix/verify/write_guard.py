"""Inside a verify run: keep the script's writes in its staged tree, never in the user's project.

The staged tree (see staging.py) links the project's large files instead of copying them. An audit hook
(`sys.addaudithook`, PEP 578) sees every file the run opens from Python:

- opening a staged link for writing replaces the link by a private copy first (copy on write), so
  `np.save("data/x.npy")` changes the staged copy, as running by hand would change the script's own file;
- any other write, rename or removal that would land in the user's project (an absolute path into it)
  raises PermissionError with the reason, instead of touching the user's files.

What this cannot see: files written by compiled code that does not go through Python's `open`/`os` functions
(TensorFlow's own file system, h5py) through a link to a large file. `staging.linked_files_changed` checks
those links' targets after the run, so such a write is at least reported.
"""

from __future__ import annotations

import os
import shutil
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = {  # event -> the positions of its path arguments that it changes
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.truncate": (0,),
    "os.chmod": (0,), "os.chown": (0,), "os.link": (1,), "os.symlink": (1,), "os.utime": (0,), "shutil.rmtree": (0,),
}  # fmt: skip


class WriteGuard:
    """The audit hook of one run: `protected` is the user's project (real path), `stage` the staged copy of it."""

    def __init__(self, protected: str, stage: str) -> None:
        self.protected = os.path.realpath(protected)
        self.stage = os.path.realpath(stage)
        self.active = False

    def install(self) -> None:
        self.active = True
        sys.addaudithook(self)  # hooks cannot be removed; `active` turns this one off after the run

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if _writes(mode, flags):
                self._writing(path, follows_links=True)
        elif event in PATH_EVENTS:
            for position in PATH_EVENTS[event]:
                if position < len(args):
                    self._writing(args[position], follows_links=False)

    def _writing(self, path, follows_links: bool) -> None:
        if isinstance(path, int) or path is None:
            return
        try:
            path = os.fsdecode(path)
        except TypeError:
            return
        absolute = os.path.abspath(path)
        parent = os.path.realpath(os.path.dirname(absolute))
        target = os.path.join(parent, os.path.basename(absolute))
        if follows_links and os.path.islink(target) and _inside(parent, self.stage):
            self.active = False  # our own copy must not be audited
            try:
                _replace_link_by_copy(target)
            finally:
                self.active = True
            return
        resolved = os.path.realpath(target) if follows_links else target
        if _inside(resolved, self.protected) and not _inside(resolved, self.stage):
            raise PermissionError(
                f"bnfix verify: the script tried to change {resolved}, a file of your project; "
                "verify runs a staged copy and never writes to the original"
            )


def _writes(mode, flags) -> bool:
    if isinstance(mode, str) and any(char in mode for char in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _replace_link_by_copy(link: str) -> None:
    target = os.path.realpath(link)
    temporary = link + ".bnfix-copy"
    if os.path.isfile(target):
        shutil.copy2(target, temporary)
        os.replace(temporary, link)
    else:
        os.unlink(link)
