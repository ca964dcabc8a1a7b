"""The ``newsarchiver`` command line, one module per command group.

:mod:`crawler.cli.main` builds the parser and runs a command (the console entry point;
``python -m crawler.cli`` runs it too, :mod:`crawler.cli.__main__`). The groups:
:mod:`~crawler.cli.crawl_commands` (crawl, demo), :mod:`~crawler.cli.failure_commands` (retry,
failures), :mod:`~crawler.cli.push_commands` (push, status), :mod:`~crawler.cli.cluster_commands`
(seed, merge, ``crawl --redis``), :mod:`~crawler.cli.archive_commands` (index, lookup, extract,
reextract), :mod:`~crawler.cli.export_command`, :mod:`~crawler.cli.report_command`,
:mod:`~crawler.cli.listing_command`, :mod:`~crawler.cli.stories_commands`,
:mod:`~crawler.cli.search_command`; :mod:`~crawler.cli.quiet` is ``crawl --quiet``'s output and
:mod:`~crawler.cli.common` the helpers they share. The crawl itself runs in
:mod:`crawler.runner`, shared with ``scrapy crawl outlets``. Reads no settings itself.
"""
