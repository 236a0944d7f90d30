"""The deployment zip carries bytecode that Python uses as it is, so no cold start compiles."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.bytecode import add_bytecode


def make_zip(path: Path, files: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), source)


def test_every_module_gets_bytecode_beside_it_once(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.zip"
    make_zip(deployment, {"app.py": "X = 1\n", "lib/mod.py": "Y = 2\n", "lib/data.json": "{}"})
    add_bytecode(deployment)
    add_bytecode(deployment)
    with zipfile.ZipFile(deployment) as archive:
        names = sorted(archive.namelist())
    expected = ["app.py", "lib/data.json", "lib/mod.py"]
    expected += [importlib.util.cache_from_source(name) for name in ("app.py", "lib/mod.py")]
    assert names == sorted(expected)


def test_the_unpacked_package_runs_the_bytecode_without_reading_timestamps(
    tmp_path: Path,
) -> None:
    deployment = tmp_path / "deployment.zip"
    make_zip(deployment, {"app.py": "ANSWER = 'compiled'\n"})
    add_bytecode(deployment)
    task = tmp_path / "task"
    with zipfile.ZipFile(deployment) as archive:
        archive.extractall(task)
    # Only the bytecode can still say "compiled": it is used as shipped, source unchecked.
    (task / "app.py").write_text("ANSWER = 'source'\n")
    environment = {**os.environ, "PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"}
    answer = subprocess.run(
        [sys.executable, "-c", "import app; print(app.ANSWER)"],
        cwd=task,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert answer == "compiled"
