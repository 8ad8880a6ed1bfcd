"""``python -m service --factory service.main:create_app --port 8080 ...``: uvicorn's own
command line (every flag), except that a graceful stop on SIGTERM exits with status 0.

uvicorn handles SIGTERM (stop accepting, wait up to ``--timeout-graceful-shutdown`` for
the requests in flight, run the lifespan's shutdown), then restores the handler it found
and raises the signal again, so the process would end "killed by SIGTERM" (-15) after a
clean stop. The handler installed here is the one it finds: it exits with 0.

Without ``--timeout-graceful-shutdown`` on the command line, the grace is the service's
own setting, ``SERVICE_SHUTDOWN_GRACE_S`` (service.settings.ShutdownSettings).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if not any(a.startswith("--timeout-graceful-shutdown") for a in sys.argv[1:]):
        from service.settings import ShutdownSettings

        sys.argv += ["--timeout-graceful-shutdown", str(ShutdownSettings().grace_s)]
    uvicorn.main(prog_name="uvicorn")


if __name__ == "__main__":
    main()
