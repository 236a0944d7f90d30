"""Package size: the deployment zip `chalice package` builds, which every cold start unpacks.

The zip is also what the cold-start benchmark runs: unpacked into a directory, as Lambda does.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from pathlib import Path

from bench.figures import Figure, Row, Section
from infra.chalice_cli import chalice_package

_KINDS = {".py": "source (.py)", ".pyc": "bytecode (.pyc)"}


def build(out: Path, stage: str = "dev") -> Path:
    """Run `chalice package` for `stage` into `out`; return the deployment zip."""
    chalice_package(stage, out)
    return out / "deployment.zip"


def unpack(deployment: Path, into: Path) -> Path:
    """Unpack the zip as Lambda does before the first invocation; return the directory."""
    with zipfile.ZipFile(deployment) as archive:
        archive.extractall(into)
    return into


def measure(deployment: Path) -> Section:
    """Sizes of the zip: compressed, unpacked, and unpacked by kind of file."""
    with zipfile.ZipFile(deployment) as archive:
        entries = archive.infolist()
    by_kind: dict[str, int] = defaultdict(int)
    for entry in entries:
        by_kind[_KINDS.get(Path(entry.filename).suffix, "other files")] += entry.file_size
    one = Figure.of
    rows = [
        Row("deployment.zip", "KB", one([deployment.stat().st_size / 1024])),
        Row("unpacked", "KB", one([sum(entry.file_size for entry in entries) / 1024])),
        Row("files", "files", one([len(entries)])),
    ]
    rows += [
        Row(f"  unpacked: {kind}", "KB", one([size / 1024]))
        for kind, size in sorted(by_kind.items(), key=lambda item: -item[1])
    ]
    return Section(
        "Package size",
        rows,
        notes=[
            "Built by `chalice package` for the dev stage (the code is the same in every "
            "stage), with the bytecode `infra/bytecode.py` adds so that no cold start compiles "
            "the source; boto3 is not in it, Lambda's Python runtime provides it.",
        ],
    )
