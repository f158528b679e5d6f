"""Reading and writing keep every byte that is not part of the repair: encoding, BOM, line endings, mode."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.sources.files import decode_source, discover, write_atomic

runner = CliRunner()

BROKEN = (
    "from keras import layers, Sequential\n"
    "m = Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.ReLU()])  # café\n"
)
FIXED = BROKEN.replace("layers.BatchNormalization(), layers.ReLU()", "layers.ReLU(), layers.BatchNormalization()").replace(
    "Dense(4, use_bias=False)", "Dense(4)"  # BN no longer follows Dense: its bias comes back
)


def apply(path: Path) -> int:
    return runner.invoke(app, ["apply", str(path)]).exit_code


def test_crlf_line_endings_survive(tmp_path):
    target = tmp_path / "crlf.py"
    target.write_bytes(BROKEN.replace("\n", "\r\n").encode())
    assert apply(target) == 0
    assert target.read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_utf8_bom_survives(tmp_path):
    target = tmp_path / "bom.py"
    target.write_bytes(codecs.BOM_UTF8 + BROKEN.encode())
    assert apply(target) == 0
    assert target.read_bytes() == codecs.BOM_UTF8 + FIXED.encode()


def test_latin1_with_coding_cookie_survives(tmp_path):
    target = tmp_path / "latin.py"
    cookie = "# -*- coding: latin-1 -*-\n"
    target.write_bytes((cookie + BROKEN).encode("latin-1"))
    assert apply(target) == 0
    assert target.read_bytes() == (cookie + FIXED).encode("latin-1")


def test_file_mode_survives(tmp_path):
    target = tmp_path / "script.py"
    target.write_text(BROKEN)
    os.chmod(target, 0o751)
    assert apply(target) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert target.read_text() == FIXED


def test_symlink_stays_a_link_and_its_target_is_fixed(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(BROKEN)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert apply(link) == 0
    assert link.is_symlink()
    assert real.read_text() == FIXED


def test_undecodable_file_is_reported_and_untouched(tmp_path):
    target = tmp_path / "bad.py"
    data = b"x = '\xff\xfe BatchNormalization'\n"
    target.write_bytes(data)
    result = runner.invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read" in result.stdout
    assert target.read_bytes() == data


def test_write_atomic_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "a.py"
    target.write_text("old\n")
    write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_decode_keeps_newlines_untranslated():
    assert decode_source(b"a = 1\r\nb = 2\r\n").text == "a = 1\r\nb = 2\r\n"


def test_discovery_skips_virtualenvs_builds_and_git(tmp_path):
    for relative in ("src/a.py", ".venv/lib/x.py", "build/b.py", ".git/hooks/c.py", "src/__pycache__/d.py", "src/notes.txt"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path])] == ["src/a.py"]
