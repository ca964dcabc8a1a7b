"""``scrapy crawl outlets``: the same crawl as ``newsarchiver crawl``, as a Scrapy user runs it.

::

    scrapy crawl outlets -a config=FILE [-a outlets=a,b] [-a refresh=1] [-s ARCHIVE_DIR=DIR]
                         [-s NAME=VALUE ...] [-o items.jsonl ...]

Scrapy's own ``crawl`` command (this one's base; ``COMMANDS_MODULE`` puts it in its place) runs
the spider and nothing around it. For the ``outlets`` spider this one does what
``newsarchiver crawl`` does, through the same code (:func:`crawler.runner.crawl_archive`): the
settings and the outlet config are checked before Scrapy starts, the archive's lock is taken
first and held through the push, the crawl's exit code is the CLI's (0 completed, 1 a crash,
2 a config or settings error, 3 the archive is in use, 4 the push failed, 5 the disk is full),
and a user's error is one ``newsarchiver: …`` line on stderr, not a traceback. The crawl itself
updates the index (:mod:`crawler.extensions.index_update`). Scrapy's options work as ever
(``-o`` feeds, ``-s``, ``-L``, ``--logfile``); the run summary table is not printed (stdout may
be a feed, ``-o -``): its figures are in the log and ``ARCHIVE/runs/<run-id>.json``. Any other
spider runs as under Scrapy's command.

Secrets given in settings (``-s AWS_SECRET_ACCESS_KEY=…``, ``-s REDIS_URL=redis://:PW@…``), the
``*_ENV`` settings and the environment are masked in every log line (:mod:`crawler.redaction`).

Settings: ``ARCHIVE_DIR``, ``PUSH_TO`` (and the config's ``push:``), ``*_ENV``, all that the
crawl checks.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl

from crawler.cli.cluster_commands import worker_part
from crawler.outlets import ConfigError, load_config
from crawler.redaction import protect
from crawler.runner import crawl_archive, prepare_secrets, reported
from crawler.settings_check import check_settings
from crawler.spiders.outlets import OutletsSpider
from storage import lock


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        lock.name_command("scrapy crawl")  # in the lock file: Scrapy took it out of sys.argv
        if args != [OutletsSpider.name]:
            protect(self.settings)  # any spider's: its secrets are masked in the logs too
            super().run(args, opts)  # another spider, or a usage error Scrapy reports
            return
        self.exitcode = reported(lambda: self._crawl_outlets(opts), self.settings["ARCHIVE_DIR"])

    def _crawl_outlets(self, opts: argparse.Namespace) -> int:
        settings = self.settings
        assert settings is not None and self.crawler_process is not None
        prepare_secrets(settings)  # the *_ENV settings read, every secret masked in the logs
        check_settings(settings)  # before the config, as newsarchiver crawl's build_settings
        spider_args = dict(opts.spargs)
        path = spider_args.pop("config", None)
        if not path:
            raise ConfigError("no outlet config given: pass -a config=PATH")
        names = spider_args.pop("outlets", "")
        config = load_config(path, settings.getint("URLLENGTH_LIMIT")).select(names.split(","))
        return crawl_archive(
            config, settings, target=config.push or settings.get("PUSH_TO"),
            part=worker_part(settings), process=self.crawler_process, out=None, **spider_args,
        )  # fmt: skip
