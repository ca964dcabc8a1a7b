"""What the archive knew when a crawl started, in memory: when each URL was last archived as an
article, and the validators of its latest full capture.

The spider asks both of every link it finds (is it archived already? may it be asked for
conditionally?): two sqlite queries per link on the reactor thread, some 400 for a page of 200
links, before Scrapy's duplicate filter had seen them. :meth:`KnownPages.load` reads both tables
once, in the caller's thread (the spider runs it in a thread at start), into dicts keyed by a
64-bit hash of the URL (a URL string would cost several times the memory of the archive's
largest outlets). The crawl's own captures need not be added: Scrapy's duplicate filter keeps a
run from asking for a URL twice, and the next run loads them.

"Archived already?" is asked by a link's identity (:mod:`storage.url_identity`): an article is
known by its ``canonical_url`` (filled by the manifest's migration for rows stored before, by
the default rules), by its URL as found, by the identity of its final URL (after redirects) and
by what the caller's `identity` makes of its URL and outlet (the crawl's: its identity under
the outlet's ``keep_params``, which the migration did not know); validators, by the URL as
fetched (the capture's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from storage.manifest import Manifest
from storage.url_identity import canonical_or_none


def url_key(url: str) -> int:
    """A URL's 64-bit key (blake2b): one collision in 2**32 among 2**32 URLs, never seen."""
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big")  # fmt: skip


@dataclass(frozen=True, slots=True)  # slots: a quarter of the memory of a plain dataclass
class Validators:
    """What a conditional request for a URL sends, and where its 304 is read back from (the
    capture of that same URL)."""

    etag: str | None
    last_modified: str | None
    warc_file: str
    warc_offset: int


class KnownPages:
    def __init__(
        self,
        archived: dict[int, str] | None = None,
        validators: dict[int, Validators] | None = None,
    ) -> None:
        self._archived = archived or {}
        self._validators = validators or {}

    @classmethod
    def load(
        cls, manifest: Manifest, identity: Callable[[str, str | None], str | None] | None = None
    ) -> KnownPages:
        """Both tables' answers for every URL, as the spider's per-link queries gave them:
        the latest fetched_at of an article found at or redirected to it, and the validators of
        the latest full response (Manifest.original_capture(url=))."""
        archived: dict[int, str] = {}
        for row in manifest.iterate(
            "SELECT url, final_url, canonical_url, outlet, fetched_at FROM articles"
        ):
            at = row["fetched_at"]
            if at is None:
                continue
            final = row["final_url"]
            if final is not None and final != row["url"]:  # redirected: by its identity too
                final = canonical_or_none(final)
            own = identity(row["url"], row["outlet"]) if identity is not None else None
            for url in {row["url"], row["canonical_url"], final, own} - {None}:
                key = url_key(url)
                if (seen := archived.get(key)) is None or seen < at:
                    archived[key] = at
        validators: dict[int, Validators | None] = {}
        files: dict[str, str] = {}  # one string per WARC file name, however many captures
        for row in manifest.iterate(
            "SELECT url, etag, last_modified, warc_file, warc_offset FROM captures"
            " WHERE status = 200 AND record_type = 'response' ORDER BY id"
        ):
            # the latest full response decides, as original_capture(url=) does: one without
            # validators means no conditional request, though an older one had them
            has = row["etag"] or row["last_modified"]
            validators[url_key(row["url"])] = Validators(
                row["etag"], row["last_modified"],
                files.setdefault(row["warc_file"], row["warc_file"]), row["warc_offset"],
            ) if has else None  # fmt: skip
        return cls(archived, {k: v for k, v in validators.items() if v is not None})

    def __len__(self) -> int:
        return len(self._archived) + len(self._validators)

    def archived_at(self, url: str) -> str | None:
        """When `url` (an identity) was last archived as an article (its canonical URL, as
        found, or its final URL's identity), or None."""
        return self._archived.get(url_key(url))

    def validators(self, url: str) -> Validators | None:
        """The validators of `url`'s latest full capture, if it had any."""
        return self._validators.get(url_key(url))
