"""`python -m user_service`: serve on HOST:PORT from the settings."""

from __future__ import annotations

import uvicorn

from user_service.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "user_service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
