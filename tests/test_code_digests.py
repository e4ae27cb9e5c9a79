"""One source gives one digest on every Python the builder runs on: an artifact built under one
version is not stale under another for its code (the normal form of ``builder/code.py``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import Bake

pytestmark = pytest.mark.slow

# Every item of the builder's own modules (a corpus of every kind of statement and expression
# the builder uses), of the demo pipeline and of the test pipeline, by file and name.
DIGESTS = """
import json, sys
from pathlib import Path
from PACKAGE.builder import code
files = [Path("PACKAGE/pipeline.py"), Path("tests/fixture_pipeline.py")]
files += sorted(Path("PACKAGE/builder").rglob("*.py"))
def digests(path):
    items = code.read(path.read_bytes(), str(path)).items
    return {name: item.digest for name, item in items.items()}
print(json.dumps({str(path): digests(path) for path in files}))
"""
OTHERS = ("python3.10", "python3.12", "python3.13")


@pytest.mark.parametrize("python", OTHERS)
def test_digests_are_the_same_on_each_python(bake: Bake, python: str) -> None:
    other = shutil.which(python)
    runs = other is not None and subprocess.run([other, "-c", "pass"], check=False).returncode == 0
    if other is None or not runs:  # a version manager's shim of an inactive version does not run
        pytest.skip(f"{python} is not installed here")
    project = bake()
    script = DIGESTS.replace("PACKAGE", project.package)
    env = {"PYTHONPATH": str(project.root)}
    ours = json.loads(project.run(sys.executable, "-c", script, env=env).stdout)
    theirs = json.loads(project.run(other, "-c", script, env=env).stdout)
    assert sum(len(items) for items in ours.values()) > 1000
    differing = [
        (path, name)
        for path, items in ours.items()
        for name in items
        if theirs[path].get(name) != items[name]
    ]
    assert differing == []
