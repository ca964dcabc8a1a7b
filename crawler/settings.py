"""Scrapy settings for newsarchiver: every default the project has, in one place.

Scrapy's own settings come first (politeness, limits, components); then the project's, grouped by
prefix with the on/off flag first: ``ARCHIVE_*`` (where the archive lives), ``WARC_*`` (captures),
``EXTRACT_*`` (HTML to clean text), ``TEXT_*`` (text files), ``SEARCH_*`` (the full-text index),
``STORIES_*`` (texts grouped into stories), ``CLUSTER_*`` (distributed crawling through Redis),
``QUIET_*`` (what a quiet crawl reports). Any of them can be overridden with
``-s NAME=VALUE`` on ``newsarchiver crawl`` or ``scrapy crawl``.
"""

from __future__ import annotations

from scrapy.settings import default_settings

from crawler import __version__

# The project's name for Scrapy (its log lines, its default user agent).
BOT_NAME = "newsarchiver"
# Where Scrapy finds the spiders (`outlets`).
SPIDER_MODULES = ["crawler.spiders"]
# Where `scrapy genspider` would put a new spider.
NEWSPIDER_MODULE = "crawler.spiders"

# --- politeness -----------------------------------------------------------------------------
# The outlet config's `user_agent` replaces this one (the spider's `user_agent` attribute).
USER_AGENT = f"newsarchiver/{__version__} (+https://example.org/newsarchiver)"
# Each host's robots.txt is fetched and obeyed.
ROBOTSTXT_OBEY = True
# Requests in flight at once, all hosts together.
CONCURRENT_REQUESTS = 32
# Requests in flight at once to one host.
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Seconds between two requests to one host (AutoThrottle's lower bound).
DOWNLOAD_DELAY = 0.5
# The delay adapts to each host's response times (Scrapy's AutoThrottle).
AUTOTHROTTLE_ENABLED = True
# AutoThrottle's delay before it has measured a host (seconds).
AUTOTHROTTLE_START_DELAY = 0.5
# AutoThrottle's longest delay, however slow a host answers (seconds).
AUTOTHROTTLE_MAX_DELAY = 30.0
# Requests AutoThrottle aims to have in flight to one host at a time, on average.
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Scrapy starts this many tasks for every response's output (default 100); a page yields at
# most one item, so 100 tasks per page were pure reactor overhead (about 1 ms a page).
CONCURRENT_ITEMS = 8

# --- limits: a hostile page is cut short, recorded, and the crawl goes on -------------------
# Seconds one download may take; past it the URL fails with reason timeout.
DOWNLOAD_TIMEOUT = 30
# Bytes one response may have, decompressed too (gzip bombs); past it: reason too_large.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
# Bytes of a response past which Scrapy logs a warning.
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
# Redirects one request may follow; a longer chain fails with reason redirect_loop.
REDIRECT_MAX_TIMES = 10
# A link longer than this (characters) is a recorded failure url_too_long (crawler/middlewares/
# url_length.py), never requested; 0: no limit. Scrapy's default.
URLLENGTH_LIMIT = 2083
# Depth is limited per outlet by the spider (`depth` in the outlet config), not globally.
DEPTH_LIMIT = 0

# --- retries within a run: backoff with jitter, Retry-After honoured ---------------------------
# Failed downloads are retried within the run (crawler/middlewares/retry.py).
RETRY_ENABLED = True
# Retries of one request within a run, after its first attempt.
RETRY_TIMES = 3
# HTTP statuses retried within the run.
RETRY_HTTP_CODES = [403, 408, 429, 500, 502, 503, 504, 522, 524]
# Exceptions of a download retried within the run (import paths or classes): Scrapy's default.
RETRY_EXCEPTIONS = list(default_settings.RETRY_EXCEPTIONS)
# Added to a retried request's priority (negative: after the requests waiting). Scrapy's default.
RETRY_PRIORITY_ADJUST = default_settings.RETRY_PRIORITY_ADJUST
# Seconds before the first retry; doubled for each next one.
RETRY_BASE_DELAY = 2.0
# Longest wait before a retry (seconds): the cap of the backoff.
RETRY_MAX_DELAY = 60.0
# Wait between half and all of the backoff, so that retries do not come in step.
RETRY_JITTER = True
# A longer Retry-After (seconds) is not waited for: the URL is due in a later run.
RETRY_AFTER_MAX = 120.0
# Error, block and challenge pages with status 200 (pipelines/error_pages.py) are retried like a
# 403 and recorded as soft_404 or blocked, never stored as text.
RETRY_SOFT_FAILURES = True
# once per outlet per run, a URL that cannot exist: its answer tells the outlet's soft 404s
SOFT_FAILURE_PROBE = True
# --- retries across runs: a URL that failed is due again 1 h, 4 h, 16 h… later ------------------
# Seconds after its first failed run before a URL is due again.
RETRY_RUN_BACKOFF = 3600.0
# Growth of that wait with each further failed run.
RETRY_RUN_BACKOFF_FACTOR = 4.0
# Failed runs before a URL is gave_up (retried only by `retry --all`).
RETRY_RUNS_MAX = 5

# --- components -----------------------------------------------------------------------------
# The project's downloader middlewares, beside Scrapy's (the retry, charset and 304 ones).
DOWNLOADER_MIDDLEWARES = {
    # responses go from high numbers to low ones
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # after decompression (590), before the meta refresh (580) and soft-failure (550) checks,
    # which read the page's text
    "crawler.middlewares.charset.CharsetMiddleware": 585,
    # a 304 read from its capture: before the charset choice, like a page just fetched
    "crawler.middlewares.not_modified.NotModifiedMiddleware": 586,
}
# The project's spider middlewares, beside Scrapy's (the URL length one).
SPIDER_MIDDLEWARES = {
    # a link past URLLENGTH_LIMIT (Scrapy's 2083) is a recorded failure, not only a stat
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "crawler.middlewares.url_length.UrlLengthMiddleware": 800,
}
# The project's extensions, in the order they open: lock, log, disk guard, progress, WARC
# capture, index, failure recorder, search index, stories, run summary.
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    "crawler.extensions.archive_lock.ArchiveLock": 0,  # first: nothing touches the archive before
    "crawler.extensions.run_log.RunLog": 10,
    "crawler.extensions.disk_guard.DiskGuard": 15,
    "crawler.extensions.progress.Progress": 20,
    "crawler.extensions.warc_capture.WarcCapture": 100,
    "crawler.extensions.index_update.IndexUpdater": 110,  # when WarcCapture has closed its files
    "crawler.extensions.failures.FailureRecorder": 200,
    # ARCHIVE/search.sqlite, from the text_stored signal, written in a thread of its own
    "crawler.extensions.search_index.SearchIndexer": 300,
    "crawler.extensions.stories_update.StoriesUpdater": 310,  # text_stored: texts into stories
    "crawler.extensions.run_summary.RunSummary": 900,
}
# What an article item goes through: extraction, the text store, the plain output item.
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 300,
    "pipelines.store_text.StoreTextPipeline": 500,
    # last: an archived article leaves as an ArchivedArticle of plain values, which feeds
    # (-o items.jsonl / .csv / .xml) and item_scraped listeners get
    "pipelines.output_item.OutputItemPipeline": 900,
}

# CLUSTER_ENABLED on: Redis scheduler, dupefilter and the cluster components (crawler/cluster)
ADDONS = {"crawler.cluster.addon.ClusterAddon": 0}

# An unattended archiver needs no telnet console (its password would be in the log);
# `-s TELNETCONSOLE_ENABLED=1` turns it on.
TELNETCONSOLE_ENABLED = False
# Nor Scrapy 2.19's remote-control HTTP server (a token and a job file under the user's state
# dir, left behind by a killed crawl); `-s REMOTE_CONTROL_ENABLED=1` turns it on.
REMOTE_CONTROL_ENABLED = False

# `scrapy crawl outlets` runs crawler/commands/crawl.py: newsarchiver crawl's checks, lock,
# exit codes and push around Scrapy's own crawl command
COMMANDS_MODULE = "crawler.commands"

# Lowest level of the log lines written (console and logs/<run-id>.log).
LOG_LEVEL = "INFO"
# The form of a log line (Python logging's), in the console and the run's log file. Scrapy's.
LOG_FORMAT = default_settings.LOG_FORMAT
# The form of a log line's time (strftime). Scrapy's.
LOG_DATEFORMAT = default_settings.LOG_DATEFORMAT
# Scrapy's default request fingerprinter; set explicitly so no deprecation warning is printed.
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# Feeds (-o items.jsonl…) are written in UTF-8, not escaped ASCII.
FEED_EXPORT_ENCODING = "utf-8"

# --- ARCHIVE_*: where everything is written ---------------------------------------------------
# The archive's directory: WARC files, texts, the manifest, logs (--archive on the command line).
ARCHIVE_DIR = "archive"
# Identifies one crawl in the manifest and in runs/<run-id>.json; generated when empty.
ARCHIVE_RUN_ID = ""
# logs/<run-id>.log older than this (days) are removed; 0 keeps all.
ARCHIVE_LOG_RETENTION_DAYS = 30
# Seconds between progress lines.
LOGSTATS_INTERVAL = 60.0
# A crawl does not start, and stops cleanly, with less free space than this on the archive's
# disk (MB): room for the manifest, the summary and the log to finish. 0: no floor.
ARCHIVE_MIN_FREE_MB = 100.0

# Page requisites (crawler/requisites.py): the stylesheets, scripts, images, fonts and icons an
# archived article needs to replay as its reader saw it, on any host (CDNs too), each URL once a
# run. What a limit below leaves out is counted by its reason.
ARCHIVE_REQUISITES = True
# Home and section pages' requisites too, not only articles'.
ARCHIVE_REQUISITES_HUBS = False
# Bytes of one requisite, at most.
ARCHIVE_REQUISITES_MAX_SIZE = 10 * 1024 * 1024
# Requisites one page (or stylesheet) may add, at most.
ARCHIVE_REQUISITES_MAX_PER_PAGE = 150
# Requisites in a run, at most.
ARCHIVE_REQUISITES_MAX_PER_RUN = 50_000

# --- WARC_*: every HTTP exchange, as received ---------------------------------------------------
# Every HTTP exchange is written to ARCHIVE/warc/ as received.
WARC_ENABLED = True
# The start of each WARC file's name (a distributed crawl adds the worker id).
WARC_PREFIX = "newsarchiver"
# Bytes; a file is closed and a new one opened past this size.
WARC_MAX_SIZE = 1_000_000_000
# gzip level of each record's member (zlib-ng). 6 (zlib's default, Heritrix's) is within 0.8 % of
# 9's size on real news pages at half its CPU; 4 costs 2 % more bytes for 80 % of 6's CPU.
WARC_GZIP_LEVEL = 6
# Exchanges received but not yet written, in bytes: past this the crawl pauses new downloads
# until the writer has caught up to half of it, so a slow disk costs speed, not memory.
WARC_MAX_PENDING_BYTES = 64 * 1024 * 1024
# Every exchange is flushed to the kernel before its text is stored (a SIGKILL loses nothing);
# files are fsynced when rotated and closed. "record": fsync every exchange too, so a power cut
# cannot lose a record whose text exists (a disk flush per page). "close" or "record".
WARC_FSYNC = "close"

# --- EXTRACT_*: HTML to clean article text, in worker processes ---------------------------------
# Clean text is extracted from article pages (off: the page workers still read every page's
# links and verdict).
EXTRACT_ENABLED = True
# Page worker processes; 0: one per usable core.
EXTRACT_WORKERS = 0
# Less article text than this (characters) is "no article" (reason too_short).
EXTRACT_MIN_CHARS = 200
# Seconds for one page; past it the worker is killed, the page a failure.
EXTRACT_TIMEOUT = 60.0
# The extractor: the project's, or your own of the same signature (an import path).
EXTRACT_FUNCTION = "pipelines.article.extract_article"

# --- PUSH_*: copy the archive to object storage (newsarchiver push, crawl --push) ----------------
# s3://bucket/prefix or file:///path; set, a crawl pushes when it ends.
PUSH_TO = ""
# The bucket is created when it does not exist.
PUSH_CREATE_BUCKET = False
# Local WARC files are removed once their upload is verified.
PUSH_DELETE_LOCAL_AFTER_VERIFY = False
# Files uploaded at once (each also goes in parallel parts).
PUSH_WORKERS = 2
# Bytes; larger files go multipart.
PUSH_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# Bytes of one part of a multipart upload.
PUSH_MULTIPART_CHUNKSIZE = 64 * 1024 * 1024
# Parts of one file uploaded at once.
PUSH_MAX_CONCURRENCY = 8
# auto: path-style for any endpoint URL but AWS's; or path, virtual.
PUSH_ADDRESSING_STYLE = "auto"
# Time a push may take, so a stalled server cannot hold the archive's lock for long: seconds to
# connect, seconds without a byte from the server, retries of a request that failed on the network
# or a 5xx (botocore's standard mode, with backoff), and a deadline for all of one object's upload
# and verification (0: none), which a server trickling bytes cannot stretch. An object that misses
# it fails the push (exit 4; its upload aborted) and goes again next push: at 900 s a 1 GB WARC
# needs 1.2 MB/s.
PUSH_CONNECT_TIMEOUT = 10.0
# Seconds without a byte from the server (see above).
PUSH_READ_TIMEOUT = 60.0
# Retries of a request that failed on the network or with a 5xx (see above).
PUSH_RETRIES = 3
# Seconds for all of one object's upload and verification; 0: no deadline (see above).
PUSH_OBJECT_TIMEOUT = 900.0
# Scrapy's AWS_* settings are honoured; left None, boto3 reads the environment, the shared
# credentials file and AWS_PROFILE.
# Secrets (crawler/redaction.py): NAME_ENV names the environment variable holding a secret
# setting NAME (AWS_SECRET_ACCESS_KEY_ENV=MY_VAR, REDIS_URL_ENV=MY_REDIS_URL…), so the secret is
# on no command line; every *_KEY, *_SECRET, *_TOKEN, *_PASSWORD setting, AWS credential and URL
# password is masked (***) in every log line, run summary, warcinfo record and message.
# The S3 access key id (secret: masked; AWS_ACCESS_KEY_ID_ENV names a variable holding it).
AWS_ACCESS_KEY_ID = None
# The S3 secret access key (secret: masked; AWS_SECRET_ACCESS_KEY_ENV names a variable).
AWS_SECRET_ACCESS_KEY = None
# An S3 session token, for temporary credentials (secret: masked).
AWS_SESSION_TOKEN = None
# The S3 endpoint (MinIO, SeaweedFS, R2…); None: AWS's (or the AWS_ENDPOINT_URL variable).
AWS_ENDPOINT_URL = None
# The S3 region; None: boto3's choice.
AWS_REGION_NAME = None
# TLS certificate checks of the S3 endpoint: None (on), False (off) or a CA bundle's path.
AWS_VERIFY = None

# --- TEXT_*: NNN_HASH.txt + NNN_HASH.json ------------------------------------------------------
# Article texts are written to ARCHIVE/text/.
TEXT_ENABLED = True
# Each text file is fsynced before it is renamed into place.
TEXT_FSYNC = True
# The class that numbers texts across workers (a pipelines.text_numbers.TextNumbers); empty:
# the archive numbers its own. The cluster add-on sets it to crawler.cluster.text_numbers'
# Redis-backed one.
TEXT_NUMBERS_CLASS = ""

# --- STORIES_*: texts grouped into stories as they are stored (storage/stories.py) ----------
# Each text stored is put in a story (ARCHIVE/stories.sqlite) in a thread of its own.
STORIES_ENABLED = True
# Body word-shingle Jaccard (MinHash-estimated) from which two texts are near-duplicates: the
# same copy edited. 0.5 measured on the syndicated variants (bench/stories_bench.py --fixture):
# precision and recall 1.0 from 0.3 to 0.7 (0.83 at 0.8); edited copies score 0.73-0.93,
# unrelated texts under 0.02.
STORIES_NEAR_DUPLICATE_THRESHOLD = 0.5
# Keyword (title + lead, content words) Jaccard from which two reports within
# STORIES_WINDOW_DAYS of each other are the same story though not the same copy.
STORIES_RELATED_THRESHOLD = 0.4
# Days between two reports within which they may be one story.
STORIES_WINDOW_DAYS = 3.0

# --- SEARCH_*: ARCHIVE/search.sqlite, full-text search of the texts (newsarchiver search) ------
# on: every text stored is indexed (FTS5) in the crawl's own thread; what a killed crawl missed
# is added when the next one opens. Off: `newsarchiver index --search` builds it.
SEARCH_INDEX_ENABLED = True

# --- CLUSTER_*: several workers, one crawl, through Redis (newsarchiver crawl --redis URL) -----
# Off: one machine, Redis never needed.
CLUSTER_ENABLED = False
# scrapy-redis's setting: redis://[:password@]host:6379/0 (rediss:// for TLS).
REDIS_URL = ""
# Prefix of every Redis key: one name per shared archive.
CLUSTER_NAME = "newsarchiver"
# Unique per worker, in WARC names and object keys (--worker-id); empty: made of the host and
# the archive (<host>_<8 hex>).
CLUSTER_WORKER_ID = ""
# Seconds between a worker's "alive" refreshes.
CLUSTER_HEARTBEAT = 5.0
# Seconds without a refresh before a worker's requests are requeued.
CLUSTER_WORKER_TTL = 30
# Seconds without Redis before a worker stops cleanly.
CLUSTER_REDIS_LOST_TIMEOUT = 60.0
# newsarchiver seed: queue the run's seeds and stop, fetch nothing.
CLUSTER_SEED_ONLY = False
# Seconds between looks at the queue while other workers still crawl.
CLUSTER_IDLE_POLL = 0.5
# Redis is asked in batches, from threads (none of it per page on the reactor): seconds between
# a worker's batched steps (requests it found queued, finished leases ended, requests taken
# ahead; at once when the engine waits).
CLUSTER_SYNC_INTERVAL = 0.5
# Requests a worker takes ahead of need (leased; at most 1000).
CLUSTER_PREFETCH = 32
# Text numbers a worker reserves at a time, at most (1: the archive-wide order of first writes
# kept exactly, at one more Redis command per text).
CLUSTER_TEXT_NUMBERS_AHEAD = 16
# Seconds between writes of a worker's archived URLs and healed failures and reads of the URLs
# the others archived.
CLUSTER_FLUSH_INTERVAL = 1.0

# --- QUIET_*: newsarchiver crawl --quiet, for cron (crawler/cli/quiet.py) -----------------------
# On: nothing printed for a run that went as expected; a short report on stderr for one that
# needs a person (a crash or exit != 0, an outlet that saw no article, too many failures).
QUIET_ENABLED = False
# Too many failures: an outlet's failed URLs / the URLs it requested this run, above this...
QUIET_FAILURE_RATIO = 0.25
# ... and at least this many: one 404 in a quiet hour is no news.
QUIET_FAILURE_MIN = 3
