"""The source distribution carries the package and none of the test suite.

The suite needs the whole repository (README.rst, examples/, docs/), so it
runs from a clone; ``MANIFEST.in`` keeps every test file out of the sdist
rather than shipping a part of them that cannot run.
"""

import os
import shutil
import subprocess
import tarfile

import pytest
from conftest import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUILD = """
import sys
from setuptools import build_meta

print(build_meta.build_sdist(sys.argv[1]))
"""


def _tracked_files():
    try:
        out = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout")
    return [path for path in out.splitlines() if os.path.isfile(os.path.join(ROOT, path))]


def test_sdist_has_the_package_and_no_tests(tmp_path, monkeypatch):
    files = _tracked_files()
    source = tmp_path / "source"
    for path in files:  # a clean copy: no egg-info or build folder of the checkout
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), source / path)
    (tmp_path / "build.py").write_text(BUILD)
    monkeypatch.chdir(source)
    name = run_python(tmp_path / "build.py", tmp_path / "dist").stdout.strip().splitlines()[-1]
    with tarfile.open(tmp_path / "dist" / name) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    package = {path for path in files if path.startswith("linked_neurons/")}
    assert package <= members, sorted(package - members)
    assert {"README.rst", "LICENSE", "pyproject.toml", "setup.py"} <= members
    assert not [m for m in members if m.startswith("tests/") or "conftest" in m], sorted(members)
