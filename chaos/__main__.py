"""``python -m chaos [--duration S] [--quick]``: faults under load, then verification."""

from __future__ import annotations

import argparse
import sys

from chaos.run import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=None, help="minimum seconds of load")
    parser.add_argument(
        "--quick", action="store_true", help="three faults (worker, Redis, RabbitMQ), short load"
    )
    args = parser.parse_args()
    return run(quick=args.quick, duration=args.duration)


if __name__ == "__main__":
    sys.exit(main())
