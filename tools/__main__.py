"""`python -m tools <command> ...`: the photomod command line (`make ingest` runs `ingest`, `make policy` `policy`)."""

import sys

from tools import backfill, export, ingest, policy

COMMANDS = {
    "ingest": ingest.main,
    "policy": policy.main,
    "export": export.main,
    "backfill-renditions": backfill.main,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m tools {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
