"""``python -m onepipe.demo``: ``onepipe demo`` (this repository's ``make demo``) under its old name."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from onepipe.cli.main import main as cli

    return cli(["demo", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
