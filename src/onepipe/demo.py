"""``python -m onepipe.demo``: ``onepipe demo`` (this repository's ``make demo``) under its old name."""

from __future__ import annotations

import sys

from onepipe.cli.main import main as cli


def main(argv: list[str] | None = None) -> int:
    return cli(["demo", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
