"""``python -m fanout_worker``: the consumers and the health/metrics server on one event loop.

SIGTERM or SIGINT stops the HTTP server, then the lifespan shutdown stops consuming, waits for
in-flight messages and closes; the process then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator

import uvicorn
import uvloop

from fanout_worker.app import create_app
from fanout_worker.settings import Settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the captured signal after a graceful shutdown, which would end the
        # process with a signal status instead of 0.
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


def main() -> int:
    settings = Settings()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = _Server(config)
    # The services' loop (uvicorn --loop uvloop): the worker is all socket I/O with RabbitMQ,
    # Redis and user-service.
    uvloop.run(server.serve())
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
