"""Every ``.. code-block:: python`` of README.rst runs as written.

The fast blocks run one after the other in one fresh interpreter (each in its
own namespace, from a temporary folder), so that Keras and the backend are
imported once; the blocks listed in ``SLOW`` run in their own interpreter with
``--runslow``. Each block is named after the README section it belongs to.
"""

import json
import os
import re
import sys
import textwrap

import pytest
from conftest import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.rst")

# Sections whose blocks run a study rather than show an API.
SLOW = {"Diverse learned activations"}

RUNNER = """
import json, sys, time, traceback

blocks = json.load(open(sys.argv[1]))
for name, code in blocks:
    start = time.perf_counter()
    try:
        exec(compile(code, f"<README: {name}>", "exec"), {"__name__": "__main__"})
    except BaseException:
        print(f"README block {name!r} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    print(f"README block ran in {time.perf_counter() - start:6.1f} s: {name}")
"""


def readme_blocks(path=README):
    """``(name, code)`` of each python code block, named after its section."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, section, counts, i = [], "", {}, 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and re.fullmatch(r"=+", lines[i + 1]) and line.strip():
            section = line.strip()
        if re.fullmatch(r"\.\. code-block:: python\s*", line):
            body, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                body.append(lines[i])
                i += 1
            counts[section] = counts.get(section, 0) + 1
            name = section if counts[section] == 1 else f"{section} ({counts[section]})"
            blocks.append((name, textwrap.dedent("\n".join(body)).strip() + "\n"))
            continue
        i += 1
    return blocks


def _run(tmp_path, monkeypatch, blocks):
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "runner.py").write_text(RUNNER)
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (ROOT, path) if p))
    monkeypatch.chdir(tmp_path)
    result = run_python(tmp_path / "runner.py", tmp_path / "blocks.json", timeout=1200)
    sys.stdout.write(result.stdout)
    return result


def test_readme_has_the_documented_blocks():
    names = [name for name, _ in readme_blocks()]
    for section in ("Using the layers", "Optimizers", "Monitoring activations"):
        assert section in names, names
    assert SLOW <= set(names), names


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = [(n, c) for n, c in readme_blocks() if n not in SLOW]
    result = _run(tmp_path, monkeypatch, blocks)
    ran = re.findall(r"^README block ran in .* s: (.*)$", result.stdout, re.MULTILINE)
    assert ran == [name for name, _ in blocks], result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_readme_slow_python_blocks_run(tmp_path, monkeypatch, name):
    blocks = [(n, c) for n, c in readme_blocks() if n == name]
    assert blocks, name
    _run(tmp_path, monkeypatch, blocks)
