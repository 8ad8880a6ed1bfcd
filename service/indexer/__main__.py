"""``python -m service.indexer``: runs one indexer until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from service.indexer.consumer import Indexer
from service.logs import configure_logging
from service.settings import ObservabilitySettings, Settings
from service.tracing import setup_tracing


async def _main() -> None:
    settings = Settings.from_env()
    setup_tracing(settings.tracing, "gameday-indexer")
    indexer = Indexer(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, indexer.stop)
    await indexer.run()


def main() -> None:
    configure_logging(ObservabilitySettings())
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per request otherwise
    asyncio.run(_main())


if __name__ == "__main__":
    main()
