"""``python -m collector`` / the ``collector`` console script."""

from __future__ import annotations

import sys

from collector.logs import configure_logging
from collector.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Parse settings (flags > environment > config file > defaults) and serve until drained."""
    try:
        settings = load_settings(argv)
    except SettingsError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from collector.server import serve  # after logging is set up: uvicorn logs on import paths

    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
