"""The rehearsals' Java programs run from a cache of compiled classes: compiled once, again when the source
changes, and launched from their source when they cannot be compiled."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from runbook.sandbox import java

pytestmark = pytest.mark.skipif(not shutil.which("java") or not shutil.which("javac"), reason="no JDK")

HELLO = 'public class Hello {{ public static void main(String[] a) {{ System.out.println("{}"); }} }}\n'


def run(argv: list[str]) -> str:
    return subprocess.run(["java", *argv], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def test_a_program_is_compiled_once_and_again_when_its_source_changes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "Hello.java"
    src.write_text(HELLO.format("one"))
    first = java.program(src)
    assert first[0] == "-cp" and first[2] == "Hello" and run(first) == "one"
    built = sorted((tmp_path / "cache" / "java").iterdir())
    assert java.program(src) == first and sorted((tmp_path / "cache" / "java").iterdir()) == built  # no new build
    src.write_text(HELLO.format("two"))
    second = java.program(src)
    assert second != first and run(second) == "two"
    assert not [p for p in (tmp_path / "cache" / "java").iterdir() if p.name.startswith(".build-")]


def test_what_cannot_be_compiled_is_launched_from_its_source(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "Hello.java"
    src.write_text(HELLO.format("from source"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no javac
    assert java.program(src) == [str(src)]
    monkeypatch.undo()
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(tmp_path / "cache"))
    broken = tmp_path / "Broken.java"
    broken.write_text("public class Broken { this is not java }\n")
    assert java.program(broken) == [str(broken)]
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(tmp_path / "file" / "cache"))  # a cache that cannot be made
    assert java.program(src) == [str(src)] and run(java.program(src)) == "from source"
