"""What the command groups share: the ``-s NAME=VALUE`` option, the push target and the manifest
of an existing archive, each a ConfigError (exit 2) when wrong. Reads no settings."""

from __future__ import annotations

import argparse

from crawler.outlets import ConfigError
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.object_store import PushError, check_target


def add_set(p: argparse.ArgumentParser) -> None:
    """The repeatable ``-s NAME=VALUE`` setting override, as in scrapy."""
    p.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Scrapy or newsarchiver setting (repeatable)",
    )


def checked_target(target: str | None, option: str) -> str | None:
    """A push target that names its store unambiguously; else a ConfigError (exit 2)."""
    if not target:
        return None
    try:
        return check_target(target)
    except PushError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def open_manifest(archive: str) -> Manifest:
    """The manifest of an existing archive; a ConfigError (exit 2) when there is none."""
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    return Manifest(layout.manifest_path)
