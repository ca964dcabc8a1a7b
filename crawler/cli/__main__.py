"""``python -m crawler.cli``: the ``newsarchiver`` command (:func:`crawler.cli.main.main`)."""

from __future__ import annotations

import sys

from crawler.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
