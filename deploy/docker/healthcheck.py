#!/usr/bin/env python
"""Container health check: exit 0 when the URL answers 2xx within two seconds, else 1.

The slim base image has neither curl nor wget; the standard library is enough.
Usage: feedline-healthcheck http://127.0.0.1:8001/readyz
"""

from __future__ import annotations

import sys
import urllib.request

TIMEOUT_SECONDS = 2.0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: feedline-healthcheck URL\n")
        return 2
    try:
        with urllib.request.urlopen(argv[1], timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the URL is the operator's own health endpoint
            return 0 if 200 <= response.status < 300 else 1
    except OSError as exc:  # URLError and HTTPError (a 503 from /readyz) are OSErrors
        sys.stderr.write(f"{argv[1]}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
