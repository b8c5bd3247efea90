"""`python -m smartspaces.stages.serving [--env ENV]`: the read API, as `smartspaces serve` runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import load_settings
from smartspaces.stages.serving.server import serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartspaces.stages.serving", description=__doc__)
    parser.add_argument("--env", help="configuration environment: conf/<env>.yaml (default: $SMARTSPACES_ENV or local)")
    args = parser.parse_args(argv)
    return serve(load_settings(args.env))


if __name__ == "__main__":
    sys.exit(main())
