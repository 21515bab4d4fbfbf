"""The package as a user meets it: the fast path is really there, the README example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import session_core
from session_core import _backend

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(_backend.NO_EXTENSIONS, reason="pure-Python run requested on purpose")
def test_c_pow_backend_loaded() -> None:
    """A missing C extension must never pass unnoticed (see .ci/run too)."""
    info = session_core.backend()["pow"]
    assert info["implementation"] == "c", info
    assert info["kernel"] != "python"


def test_no_extensions_switch_forces_python() -> None:
    code = "import session_core, json; print(json.dumps(session_core.backend()['pow']))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"SESSION_CORE_NO_EXTENSIONS": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert '"implementation": "python"' in out


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python example"
    return blocks[0]


def test_readme_example_runs() -> None:
    code = readme_python_example()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the README example should print its result"


def test_cli_backend_command() -> None:
    from click.testing import CliRunner

    from session_core.cli import cli

    result = CliRunner().invoke(cli, ["backend", "--json"])
    assert result.exit_code == 0, result.output
    assert '"pow"' in result.output
