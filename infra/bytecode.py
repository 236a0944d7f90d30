"""Compiled bytecode in the deployment zip, so that no cold start compiles the app's source.

Lambda runs the unpacked zip from a read-only directory, where Python cannot write its
bytecode cache: without this, every cold start compiles `chalice/app.py` and `chalicelib` from
source before answering (about 40 ms here; `make bench` shows it). The `.pyc` files are
unchecked hash-based ones (PEP 552), loaded without comparing timestamps, which a zip does not
keep. They are compiled by this interpreter, whose version `chalice package` also makes the
functions' runtime; a runtime of another version would ignore them and compile as before.
"""

from __future__ import annotations

import importlib.util
import py_compile
import tempfile
import zipfile
from pathlib import Path
from typing import Final

#: Where Lambda unpacks the code, so that tracebacks name the files as they are deployed.
LAMBDA_TASK_ROOT: Final = "/var/task"


def _compiled(source: str, data: bytes, scratch: Path) -> bytes:
    """The bytecode of one source file of the zip."""
    path = scratch / source
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    cache = scratch / importlib.util.cache_from_source(source)
    py_compile.compile(
        str(path),
        cfile=str(cache),
        dfile=f"{LAMBDA_TASK_ROOT}/{source}",
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return cache.read_bytes()


def add_bytecode(deployment: Path) -> None:
    """Rewrite `deployment` with a `__pycache__` entry beside every `.py` file it holds."""
    with zipfile.ZipFile(deployment) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    names = {info.filename for info, _ in entries}
    rewritten = deployment.with_suffix(".tmp")
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(rewritten, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
            cache = importlib.util.cache_from_source(info.filename)
            if not info.filename.endswith(".py") or cache in names:
                continue
            entry = zipfile.ZipInfo(cache, date_time=info.date_time)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, _compiled(info.filename, data, Path(scratch)))
    rewritten.replace(deployment)
