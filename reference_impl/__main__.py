"""``python -m reference_impl``: run the service under uvicorn on PRISM_HOST:PRISM_PORT."""

from __future__ import annotations

import uvicorn

from reference_impl.settings import KEEP_ALIVE_SECONDS, Settings


def main() -> None:
    settings = Settings.from_env()
    uvicorn.run(
        "reference_impl.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
