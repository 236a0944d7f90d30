"""Running `chalice package` for this project, offline, from this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from infra.bytecode import add_bytecode
from infra.stage import PROJECT_DIR

#: Chalice's command line in this interpreter (the chalice package has no `__main__`).
_CHALICE_MAIN: Final = "import sys; from chalice.cli import main; sys.exit(main())"


def chalice_package(stage: str, out: Path, *options: str) -> None:
    """Run `chalice package --stage <stage> <options> <out>`; raise if it fails.

    The deployment zip it writes then gets compiled bytecode (see `infra.bytecode`).
    """
    # Chalice needs a region name to package, though it makes no AWS call.
    environment = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    command = [sys.executable, "-c", _CHALICE_MAIN, "--project-dir", str(PROJECT_DIR)]
    command += ["package", "--stage", stage, *options, str(out.resolve())]
    subprocess.run(command, cwd=PROJECT_DIR, env=environment, check=True)
    add_bytecode(out / "deployment.zip")
