"""An installed copy of viz, not the checkout: the wheel carries every module and every scenario, builds without a C
compiler, and the installed `viz` finds its scenarios and records from any folder.

The wheel is built offline (--no-build-isolation, from a copy of the sources so no build/ folder lands in the
checkout) with CC=/bin/false, which also proves that a machine without a compiler still gets a working install. The
sdist must carry every header the C sources include, or an install from it quietly falls back to pure Python.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from viz import native

SOURCES = ("pyproject.toml", "setup.py", "README.md", "viz", "scenarios")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """A copy of what a build reads, without compiled extensions or caches."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy2(ROOT / name, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(sources, tmp_path_factory) -> Path:
    """A wheel built from the copy with no C compiler."""
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "-w", str(dist), str(sources)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CC": "/bin/false"})
    assert result.returncode == 0, result.stdout + result.stderr
    return next(dist.glob("viz_swimlanes-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """The wheel installed into a folder of its own; the environment that puts it first on the path."""
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                             str(site), str(wheel)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("VIZ_SCENARIOS", "VIZ_PURE_PYTHON")}
    return {**env, "PYTHONPATH": str(site)}


def installed_python(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """This interpreter, with the installed copy of viz first on its path, in `cwd`."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def test_the_wheel_carries_every_module_and_every_scenario_under_its_distribution_name(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "viz").rglob("*.py") if "__pycache__" not in p.parts}
    scenarios = {f"viz/_scenarios/{p.name}" for p in (ROOT / "scenarios").glob("*.py")}
    assert len(scenarios) >= 13
    assert not (modules | scenarios | {"viz/app/app.tcss"}) - names
    assert wheel.name.startswith("viz_swimlanes-0.1.0-")


def test_without_a_c_compiler_the_wheel_is_pure_python_and_viz_says_so(wheel, installed, tmp_path):
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]
    result = installed_python(installed, tmp_path, "-m", "viz", "--version")
    assert result.returncode == 0, result.stderr
    assert f"pure-Python fallback for {len(native.EXTENSIONS)} of {len(native.EXTENSIONS)}" in result.stdout
    assert "(not built: no C compiler?)" in result.stdout and "4.6x slower" in result.stdout


def test_the_installed_copy_lists_and_records_its_scenarios_from_any_folder(installed, tmp_path):
    found = installed_python(installed, tmp_path, "-c", "from viz.scenarios import SCENARIOS_DIR; print(SCENARIOS_DIR)")
    assert Path(found.stdout.strip()) == Path(installed["PYTHONPATH"]) / "viz" / "_scenarios", found.stderr
    listed = installed_python(installed, tmp_path, "-m", "viz", "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()) == sorted(
        p.stem for p in (ROOT / "scenarios").glob("*.py"))
    recorded = installed_python(installed, tmp_path, "-m", "viz", "record", "gevent_sleepers", "--quiet",
                                "-o", "t.jsonl")
    assert recorded.returncode == 0, recorded.stderr
    assert "finished" in recorded.stdout and (tmp_path / "t.jsonl").stat().st_size > 0


def test_the_sdist_carries_every_file_the_c_extensions_include(sources, tmp_path):
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    result = subprocess.run([sys.executable, "-c", build, str(tmp_path)], capture_output=True, text=True,
                            timeout=120, cwd=sources)
    assert result.returncode == 0, result.stdout + result.stderr
    with tarfile.open(tmp_path / result.stdout.split()[-1]) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}
    for c in sorted((ROOT / "viz").rglob("*.c")):
        assert c.relative_to(ROOT).as_posix() in names
        ours = [h for h in re.findall(r'#include "([^"]+)"', c.read_text(encoding="utf-8")) if (c.parent / h).is_file()]
        for header in ours:  # Python's own headers (internal/pycore_frame.h) come with the interpreter
            assert os.path.normpath(c.parent.relative_to(ROOT) / header) in names, f"{c.name} includes {header}"


def test_setup_py_builds_the_extensions_viz_native_reports_on():
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    built = {node.args[0].value for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Extension"}
    assert built == {e.module for e in native.EXTENSIONS}
