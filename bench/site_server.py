"""The synthetic site's server: a minimal HTTP/1.1 keep-alive server on asyncio in a process of
its own (:class:`SiteServer`), so that serving costs neither the crawl's reactor nor the
benchmark's sampling loop, and one event loop answers far faster than ``http.server``'s thread
per request. The pages are :class:`bench.synthetic_site.Site`'s.

    python -m bench.site_server --pages 1000     # serve by hand; prints the start URL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import socket
import time

from bench.synthetic_site import Site


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, GET and HEAD only: all a crawler asks of a news site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = [*lines[0].split(" "), "", ""][:3]
            close = any(line.lower() == "connection: close" for line in lines[1:])
            status, body, ctype = self.site.resolve(path)
            reason = "OK" if status == 200 else "Not Found"
            self.transport.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: max-age=60\r\n"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
            )
            if method != "HEAD":
                self.transport.write(body)
            if close:
                self.transport.close()
                return


def _serve(site: Site, sock: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(site), sock=sock, backlog=1024)
        async with server:
            await server.serve_forever()

    # the sentences, titles and menu are built before the first request
    site.pool, site.mega_menu  # noqa: B018
    asyncio.run(main())


class SiteServer:
    """The site on 127.0.0.1 at a free port, in a process of its own (a context manager)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.process: multiprocessing.process.BaseProcess | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def start_url(self) -> str:
        return self.base + self.site.hub_path(1)

    def start(self) -> SiteServer:
        # Bound here, so the port is known and taken before the child starts listening.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        ctx = multiprocessing.get_context("fork")  # the socket goes to the child as it is
        self.process = ctx.Process(target=_serve, args=(self.site, sock), daemon=True)
        self.process.start()
        sock.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"GET /robots.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 200"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the synthetic site did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with SiteServer(Site(args.pages, args.seed)) as server:
        print(f"serving {args.pages} articles: {server.start_url}  (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            if server.process is not None:
                server.process.join()


if __name__ == "__main__":
    main()
