"""The listing (:mod:`storage.listing`) as one Parquet file, typed, written atomically.

Columns as :data:`storage.listing.FIELDS`: strings, ``words`` int64, ``other_urls``
``list<string>``, ``published`` and ``fetched_at`` ``timestamp[us, tz=UTC]`` (null where the
page's date is not an ISO 8601 date: its text is in ``published_text``, the date as the page
gave it). Rows go in row groups of :data:`BATCH` (the listing is never all in memory as Python
objects); the file is written under a temporary name beside the target, fsynced and renamed: a
reader sees the old file or the new one, never half of one, and an error leaves no file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from storage.listing import FIELDS, parse_time

BATCH = 50_000
TIMESTAMP = pa.timestamp("us", tz="UTC")
TYPES = {"words": pa.int64(), "other_urls": pa.list_(pa.string()), "published": TIMESTAMP,
         "fetched_at": TIMESTAMP}  # fmt: skip
SCHEMA = pa.schema(
    [pa.field(name, TYPES.get(name, pa.string())) for name in FIELDS]
    + [pa.field("published_text", pa.string())]
)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    data: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in FIELDS}
    data["published_text"] = data["published"]
    data["published"] = [parse_time(v) for v in data["published"]]
    data["fetched_at"] = [parse_time(v) for v in data["fetched_at"]]
    return pa.Table.from_pydict(data, schema=SCHEMA)


def write_parquet(rows: Iterable[dict[str, Any]], out: Path) -> int:
    """Write the rows to `out` (atomically); how many rows it wrote."""
    out = Path(out)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    count = 0
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    writer.write_table(_table(batch))
                    count, batch = count + len(batch), []
            if batch or not count:  # an empty listing is a file with the schema and no rows
                writer.write_table(_table(batch))
                count += len(batch)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
