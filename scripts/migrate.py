"""Runs every service's Alembic migrations (``make migrate``), each as its own database role.

``--reset`` first drops and recreates each service's schema (test databases only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from processes import DATABASE_ROLES, database_env  # noqa: E402

from feedline_shared.migrations import recreate_schema  # noqa: E402


def migrate(database: str, *, reset: bool = False) -> None:
    for service, (role, schema) in DATABASE_ROLES.items():
        env = {**os.environ, **database_env(service, database)}
        if reset:
            if not database.endswith(("_test", "_e2e")):
                raise SystemExit(f"refusing to reset schema {schema} in {database}")
            asyncio.run(recreate_schema(env["DATABASE_URL"], schema))
        subprocess.run(
            [
                str(Path(sys.executable).parent / "alembic"),
                "-c",
                str(ROOT / service / "alembic.ini"),
                "upgrade",
                "head",
            ],
            check=True,
            env=env,
            cwd=ROOT / service,
        )
        print(f"[migrate] {service}: schema {schema} in {database} at head (role {role})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=os.environ.get("FEEDLINE_DATABASE", "feedline"))
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    migrate(args.database, reset=args.reset)


if __name__ == "__main__":
    main()
