"""The Go tools the project uses (smartspaces/pins: go_tools), built once from the Go module proxy.

`python -m smartspaces.stack.go_tools` builds every pinned tool into the stack's folder (bin/<name>-<version>);
go_tool(name) returns one, building it first if it is not there. A new pin builds a new binary beside the old.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from smartspaces.config import load_settings
from smartspaces.pins import load_pins


class GoToolError(RuntimeError):
    """A pinned Go tool could not be built (no Go, or the module proxy refused)."""


def tools_folder() -> Path:
    stack = load_settings("local").stack
    if stack is None:
        raise GoToolError("the local settings have no stack section: nowhere to build the Go tools")
    return stack.data_dir / "bin"


def go_tool(name: str) -> Path:
    """The pinned tool's binary, built with `go install` on first use."""
    module = load_pins().go_tools[name]
    binary = tools_folder() / f"{name}-{module.rsplit('@', 1)[1]}"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise GoToolError(f"{name} ({module}) is built with Go, which is not on PATH: install Go 1.22 or newer")
    binary.parent.mkdir(parents=True, exist_ok=True)
    # Built into a folder of its own, then moved: two processes building at once never see half a binary.
    with tempfile.TemporaryDirectory(dir=binary.parent) as build:
        done = subprocess.run(
            [go, "install", module],
            env={**os.environ, "GOBIN": build},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise GoToolError(f"go install {module} failed:\n{done.stderr.strip()[-2000:]}")
        (Path(build) / name).replace(binary)
    return binary


def main() -> int:
    try:
        for name in load_pins().go_tools:
            print(f"{name}: {go_tool(name)}")
    except GoToolError as error:
        print(f"go_tools: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
