"""`opioid-cds`: the command line of the service.

opioid-cds migrate              create or upgrade the database schema
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.db import migrate
from app.settings import Settings

__all__ = ["main"]


def _migrate(_args: argparse.Namespace) -> int:
    settings = Settings()
    migrate(settings.database_url)
    print("database schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opioid-cds",
        description="CDS Hooks service for the regio Eemland opioid prescribing agreements.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate_parser = commands.add_parser(
        "migrate",
        help="create or upgrade the database schema (OPIOID_CDS_DATABASE_URL)",
        description="Create or upgrade the database named by OPIOID_CDS_DATABASE_URL "
        "(default: the embedded SQLite file under var/).",
    )
    migrate_parser.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
