"""Stories: the archive's texts grouped by the event they report, in ``ARCHIVE/stories.sqlite``.

Two texts are **near-duplicates** when the Jaccard similarity of their bodies' word shingles
(:data:`SHINGLE` words each, the title left out: a new headline on the same copy is still the
same copy) is at least ``near_threshold``, estimated by MinHash (datasketch, :data:`NUM_PERM`
permutations) and found through MinHash LSH, not by comparing every pair. Two texts are
**related** when the content words (:data:`STOPWORDS` and words under 3 letters left out) of
their title and lead (first paragraph) overlap by at least ``related_threshold`` (exact Jaccard,
candidates found by a second LSH over those words) and they were published within
``window_days`` of each other. A new text joins the story of its most similar near-duplicate,
else that of its most similar related text, else it starts a story of its own; a story is never
split or merged afterwards. Exact duplicates (one stored text at several URLs) are one text:
the manifest's ``articles`` rows list each outlet's copy.

Tables (the contract the listing and search read; ``text_id`` is the manifest's ``texts.id``)::

    stories     (id, title, first_published, last_published, updated_at)
    story_texts (text_id, story_id, near_duplicate_of, similarity, joined_at)
    signatures  (text_id, body BLOB, keywords TEXT, published TEXT)
                -- body: the MinHash hash values (uint32 x 128) of the body's shingles
    lsh_bands   (key, text_id)  -- the LSH index: one row per band of each signature

:class:`Stories` keeps the LSH index in the file too (``lsh_bands``: datasketch's band layout
for each threshold, each band's hash values hashed to one indexed key), so that opening it
loads nothing (10,000 texts: 0.13 s, the layouts' computation; an in-memory MinHashLSH took
4.4 s to fill from the signatures, and as long to unpickle) and a new text joins the existing
stories without a rebuild: its candidates are the texts sharing a band key, checked against
their signatures. Used from one thread (the crawl's stories thread, or a command). The stories
of a whole archive (the listing, with the manifest's copies, and the rebuild from the text
files) are :mod:`storage.archive_stories`. Reads nothing of the settings itself: the caller
passes ``STORIES_NEAR_DUPLICATE_THRESHOLD``, ``STORIES_RELATED_THRESHOLD`` and
``STORIES_WINDOW_DAYS``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from storage.clock import iso, utc_now

FILE_NAME = "stories.sqlite"
NUM_PERM = 128
SEED = 1
SHINGLE = 3  # words per shingle: a changed word touches 3 shingles, an added paragraph its own
_PERMS = MinHash(num_perm=NUM_PERM, seed=SEED).permutations  # made once: MinHash() redoes it
_WORD = re.compile(r"\w+")
# fmt: off
STOPWORDS = frozenset((  # noqa: SIM905
    "the a an and or but of to in on at for from by with as is are was were be been has have had "
    "its it this that these those their they them he she his her we our you your not no after "
    "before over under into than then there which who whom what when where will would can could "
    "said says say also about more most other some such only new one two three per cent"
).split())
# fmt: on

SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY, title TEXT, first_published TEXT, last_published TEXT, updated_at TEXT
);
CREATE TABLE IF NOT EXISTS story_texts (
    text_id INTEGER PRIMARY KEY, story_id TEXT NOT NULL, near_duplicate_of INTEGER,
    similarity REAL, joined_at TEXT
);
CREATE INDEX IF NOT EXISTS story_texts_story ON story_texts (story_id);
CREATE TABLE IF NOT EXISTS signatures (
    text_id INTEGER PRIMARY KEY, body BLOB NOT NULL, keywords TEXT NOT NULL, published TEXT
);
CREATE TABLE IF NOT EXISTS lsh_bands (key INTEGER NOT NULL, text_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lsh_bands_key ON lsh_bands (key);
"""


def story_ids(path: Path) -> dict[int, str]:
    """text_id → story id of the stories file at `path`; {} when there is none."""
    if not Path(path).exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT text_id, story_id FROM story_texts").fetchall())
    except sqlite3.OperationalError:  # a file without the table (being created)
        return {}
    finally:
        db.close()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def body_signature(paragraphs: Sequence[str]) -> MinHash:
    """MinHash of the body's word shingles (a body shorter than a shingle: its words)."""
    w = words(" ".join(paragraphs))
    shingles = {" ".join(w[i : i + SHINGLE]) for i in range(max(1, len(w) - SHINGLE + 1))}
    m = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMS)
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m


def keywords(title: str, paragraphs: Sequence[str]) -> frozenset[str]:
    """The content words of the title and lead, by which related reports are found."""
    lead = paragraphs[0] if paragraphs else ""
    return frozenset(
        w
        for w in words(f"{title} {lead}")
        if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()
    )


def _keyword_signature(kw: Iterable[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMS)
    m.update_batch([w.encode("utf-8") for w in kw])
    return m


def _bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) datasketch picks for `threshold` at NUM_PERM permutations."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def _band_keys(index: int, hashvalues: np.ndarray, layout: tuple[int, int]) -> list[int]:
    """One 63-bit key per band of a signature: its index (0 body, 1 keywords), its band
    number and the band's hash values, hashed (blake2b; stable across processes)."""
    bands, rows = layout
    hv = np.asarray(hashvalues, dtype=np.uint32)
    keys = []
    for b in range(bands):
        h = hashlib.blake2b(hv[b * rows : (b + 1) * rows].tobytes(), digest_size=8,
                            person=bytes([index, b]) + bytes(6))  # fmt: skip
        keys.append(int.from_bytes(h.digest(), "big") >> 1)
    return keys


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _when(published: str | None) -> datetime | None:
    if not published:
        return None
    try:
        when = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Assigned:
    """Where a text went: its story, whether that story is new, the near-duplicate it matched
    (or None) and the similarity that decided (body Jaccard, or keyword Jaccard)."""

    text_id: int
    story_id: str
    new: bool
    near_duplicate_of: int | None
    similarity: float | None


class Stories:
    def __init__(
        self,
        path: str | Path,
        *,
        near_threshold: float,
        related_threshold: float,
        window_days: float,
    ) -> None:
        self.path = Path(path)
        self.near_threshold = near_threshold
        self.related_threshold = related_threshold
        self.window = timedelta(days=window_days)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        # datasketch's band layout for each threshold (its false positive/negative optimum);
        # the bands themselves are rows of lsh_bands, so opening loads nothing
        self._near_bands = _bands(near_threshold)
        self._related_bands = _bands(related_threshold)
        self._story: dict[int, str] = dict(
            self._db.execute("SELECT text_id, story_id FROM story_texts").fetchall()
        )

    def __len__(self) -> int:
        return len(self._story)

    def story_count(self) -> int:
        return len(set(self._story.values()))

    def close(self) -> None:
        self._db.close()

    def __contains__(self, text_id: int) -> bool:
        return text_id in self._story

    def _candidates(self, index: int, hashvalues: np.ndarray, layout: tuple[int, int]) -> set[int]:
        keys = _band_keys(index, hashvalues, layout)
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT DISTINCT text_id FROM lsh_bands WHERE key IN ({marks})",
                                keys)  # fmt: skip
        return {r[0] for r in rows}

    def assign(self, text_id: int, title: str, paragraphs: Sequence[str],
               published: str | None, sha256: str) -> Assigned:  # fmt: skip
        """Put a new text in a story (a text assigned before keeps its story)."""
        if text_id in self._story:
            self.touch(text_id, published)
            row = self._db.execute(
                "SELECT near_duplicate_of, similarity FROM story_texts WHERE text_id = ?",
                (text_id,),
            ).fetchone()
            return Assigned(text_id, self._story[text_id], False, row[0], row[1])
        body = body_signature(paragraphs)
        kw = keywords(title, paragraphs)
        kw_sig = _keyword_signature(sorted(kw)) if kw else None
        near, near_sim = self._best_near(body)
        story_id, similarity = None, None
        if near is not None:
            story_id, similarity = self._story[near], near_sim
        else:
            related, rel_sim = self._best_related(kw, kw_sig, _when(published))
            if related is not None:
                story_id, similarity = self._story[related], rel_sim
        new = story_id is None
        now = iso(utc_now())
        with self._transaction():
            if story_id is None:
                story_id = sha256[:12]
                self._db.execute(
                    "INSERT OR REPLACE INTO stories (id, title, first_published, last_published,"
                    " updated_at) VALUES (?, ?, ?, ?, ?)",
                    (story_id, title, published, published, now),
                )  # fmt: skip
            self._db.execute(
                "INSERT INTO story_texts (text_id, story_id, near_duplicate_of, similarity,"
                " joined_at) VALUES (?, ?, ?, ?, ?)",
                (text_id, story_id, near, similarity, now),
            )  # fmt: skip
            self._db.execute(
                "INSERT OR REPLACE INTO signatures (text_id, body, keywords, published)"
                " VALUES (?, ?, ?, ?)",
                (text_id, body.hashvalues.astype(np.uint32).tobytes(), " ".join(sorted(kw)),
                 published),
            )  # fmt: skip
            keys = _band_keys(0, body.hashvalues, self._near_bands)
            if kw_sig is not None:
                keys += _band_keys(1, kw_sig.hashvalues, self._related_bands)
            self._db.executemany("INSERT INTO lsh_bands (key, text_id) VALUES (?, ?)",
                                 [(k, text_id) for k in keys])  # fmt: skip
            if not new:
                self._widen(story_id, published, now, title)
        self._story[text_id] = story_id
        return Assigned(text_id, story_id, new, near, similarity)

    def touch(self, text_id: int, published: str | None) -> None:
        """Another copy of an assigned text: its story's dates take the copy's in."""
        if text_id in self._story:
            self._widen(self._story[text_id], published, iso(utc_now()))

    def _widen(self, story_id: str, published: str | None, now: str,
               title: str | None = None) -> None:  # fmt: skip
        """The story's dates take `published` in; an earlier text's `title` becomes its title
        (a story is named by its earliest copy, whichever the crawl stored first)."""
        if published and title:
            self._db.execute(
                "UPDATE stories SET title = ? WHERE id = ? AND first_published > ?",
                (title, story_id, published),
            )  # fmt: skip
        if published:
            self._db.execute(
                "UPDATE stories SET first_published = min(coalesce(first_published, ?), ?),"
                " last_published = max(coalesce(last_published, ?), ?), updated_at = ?"
                " WHERE id = ?",
                (published, published, published, published, now, story_id),
            )  # fmt: skip

    def _best_near(self, body: MinHash) -> tuple[int | None, float | None]:
        cands = self._candidates(0, body.hashvalues, self._near_bands)
        best: tuple[float, int] | None = None
        for cand, blob in self._signatures(cands, "body"):
            other = np.frombuffer(blob, dtype=np.uint32)
            sim = float(np.count_nonzero(other == body.hashvalues)) / NUM_PERM
            if sim >= self.near_threshold and (best is None or (sim, -cand) > (best[0], -best[1])):
                best = (sim, cand)
        return (best[1], round(best[0], 4)) if best else (None, None)

    def _best_related(self, kw: frozenset[str], kw_sig: MinHash | None,
                      when: datetime | None) -> tuple[int | None, float | None]:  # fmt: skip
        if kw_sig is None:
            return None, None
        cands = self._candidates(1, kw_sig.hashvalues, self._related_bands)
        best: tuple[float, int] | None = None
        for cand, words_, published in self._signatures(cands, "keywords, published"):
            other = _when(published)
            if when is not None and other is not None and abs(when - other) > self.window:
                continue
            sim = _jaccard(kw, frozenset(words_.split()))
            if sim >= self.related_threshold and (
                best is None or (sim, -cand) > (best[0], -best[1])
            ):
                best = (sim, cand)
        return (best[1], round(best[0], 4)) if best else (None, None)

    def _signatures(self, text_ids: set[int], columns: str) -> list[tuple[Any, ...]]:
        if not text_ids:
            return []
        marks = ",".join("?" * len(text_ids))
        return self._db.execute(
            f"SELECT text_id, {columns} FROM signatures WHERE text_id IN ({marks})",
            sorted(text_ids),
        ).fetchall()

    def _transaction(self) -> Any:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def stories_path(archive: str | Path) -> Path:
    return Path(archive) / FILE_NAME
