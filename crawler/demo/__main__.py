"""Serve the demo site by hand: ``python -m crawler.demo serve [--port-base N]``.

Prints each outlet's base URL (and, with ``--config``, writes the matching outlet config) and
serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from crawler.demo.site import DemoSite


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the demo outlets until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="serve the outlets on N, N+1, ... instead of free ports",
    )
    serve.add_argument(
        "--delay", type=float, default=0.0, help="seconds to wait before each response"
    )
    serve.add_argument("--config", metavar="PATH", help="also write the outlet config YAML here")
    args = parser.parse_args(argv)

    try:
        site = DemoSite(host=args.host, delay=args.delay, port_base=args.port_base).start()
    except OSError as exc:
        print(f"cannot bind the demo site: {exc}", file=sys.stderr)
        return 1
    try:
        for name, url in site.outlets.items():
            print(f"{name:12} {url}/")
        if args.config:
            print(f"config written to {site.write_config(args.config)}")
        print("serving; press Ctrl-C to stop", flush=True)
        # The servers run in daemon threads; the main thread just waits for Ctrl-C.
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
