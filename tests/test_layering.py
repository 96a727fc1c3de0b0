"""The package's layering (tests/layers.ini, explained in docs/architecture.md), checked with import-linter."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = Path(__file__).resolve().parent / "layers.ini"
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]


def lint(package_root: Path) -> subprocess.CompletedProcess:
    """lint-imports over the `viz` package found in package_root (not whatever viz is installed)."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run([*LINT, str(CONTRACTS), "--no-cache"], cwd=package_root, env=env, capture_output=True,
                          text=True, timeout=120)


def lint_with(tmp_path: Path, module: str, line: str) -> tuple[int, str]:
    """lint-imports over a copy of viz whose `module` (a path under viz/) ends with `line`: exit status, report."""
    shutil.copytree(ROOT / "viz", tmp_path / "viz", ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c",
                                                                                   "*.h"))
    with open(tmp_path / "viz" / module, "a", encoding="utf-8") as f:
        f.write(f"\n{line}\n")
    done = lint(tmp_path)
    return done.returncode, " ".join(done.stdout.split())


def test_the_package_keeps_its_layering():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_recorder_importing_the_trace_model_breaks_the_layering(tmp_path):
    status, out = lint_with(tmp_path, "recorder/output.py", "from viz.trace.format import STATES")
    assert status != 0 and "imports nothing of viz but the protocol BROKEN" in out
    assert "viz.recorder.output -> viz.trace.format" in out


def test_the_app_importing_the_recorder_or_gevent_breaks_the_layering(tmp_path):
    status, out = lint_with(tmp_path, "app/help.py", "import gevent\nfrom viz.recorder import core")
    assert status != 0 and "2 broken" in out
    assert "never import the recorder BROKEN" in out and "never imports gevent or greenlet" in out


def test_an_import_cycle_between_packages_breaks_the_layering(tmp_path):
    status, out = lint_with(tmp_path, "trace/record.py", "import viz.trace.model  # model imports record: a cycle")
    assert status != 0 and "No import cycles between sibling packages or modules BROKEN" in out


def test_every_part_of_viz_but_the_protocol_is_forbidden_to_the_recorder():
    """A new package or module under viz/ must be named in the recorder's contract (or be the protocol)."""
    contracts = configparser.ConfigParser()
    contracts.read(CONTRACTS)
    forbidden = set(contracts["importlinter:contract:recorder"]["forbidden_modules"].split())
    parts = {f"viz.{p.stem}" for p in (ROOT / "viz").iterdir()
             if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert parts - {"viz.recorder", "viz.protocol", "viz.__main__"} <= forbidden


def test_a_traced_program_loads_nothing_of_the_viewer(script):
    """At run time too: the traced child has the recorder and the protocol, not the trace model, orjson or Textual."""
    from conftest import record, texts

    path = script("import sys\n"
                  "print(sorted(m for m in sys.modules if m.split('.')[0] in ('viz', 'orjson', 'textual', 'rich')))\n")
    loaded = eval(texts(record(str(path)))[0])
    assert "viz.protocol" in loaded and "viz.recorder.core" in loaded
    assert not [m for m in loaded if not (m == "viz" or m == "viz.protocol" or m.startswith("viz.recorder"))]
