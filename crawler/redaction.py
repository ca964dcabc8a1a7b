"""Secrets never written: masked in every log line, run summary, warcinfo record and message.

A secret is
- the value of a setting whose name ends in ``_KEY``, ``_SECRET``, ``_TOKEN`` or ``_PASSWORD``
  (:func:`is_secret_name`; the AWS credentials ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN`` among them), scrapy-redis's key patterns (``SCHEDULER_QUEUE_KEY``…) and
  Scrapy's default ``FTP_PASSWORD`` (``guest``) excepted;
- the password of any URL a setting holds (``REDIS_URL``, ``FEEDS``, ``PUSH_TO``…): its user
  info's password (a Redis URL's lone user info too, which some clients take for the password)
  and the values of its secret query parameters (``password=``, ``pass=``, ``token=``,
  ``secret=``, ``api_key=``… :data:`SECRET_QUERY`);
- the value of such an environment variable (the AWS credentials, any ``*_KEY`` /
  ``*_SECRET`` / ``*_TOKEN`` / ``*_PASSWORD`` of at least :data:`ENV_MIN_LENGTH` characters, the
  passwords of URLs in the environment, and the variables ``*_ENV`` settings name: the whole
  value, or the passwords of a URL that has some).

:func:`protect` collects them from the settings and the environment and installs, once a
process, a log record factory: a record whose message (or traceback) holds a secret has it
replaced by ``***`` when it is made, before any handler sees it, so Scrapy's stderr handler, a
``LOG_FILE``, the run log and a handler installed later all get the masked text (the root's
handlers and the run log's also get :class:`SecretFilter`, for records made otherwise); Scrapy's
``Overridden settings`` line has its secret-named settings masked by name whatever their value.
Free text is masked by value, so a secret shorter than :data:`MIN_LENGTH` characters is masked
only where it is named (it would mask common words otherwise).

A setting ``<NAME>_ENV`` whose NAME is secret-named or ``REDIS_URL`` names the environment
variable that holds NAME's value (:func:`apply_env_settings`): the secret is then on no command
line (``ps``) and in no file. Inline secrets (``-s AWS_SECRET_ACCESS_KEY=…``) are accepted, as
Scrapy accepts them, and masked.

Settings read: every secret-named setting, every setting holding a URL, ``*_ENV``.
"""

from __future__ import annotations

import ast
import logging
import os
import pprint
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote, unquote_plus

logger = logging.getLogger(__name__)

MASK = "***"
SECRET_SUFFIXES = ("_KEY", "_SECRET", "_TOKEN", "_PASSWORD")
AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# *_KEY settings that are names of Redis keys (scrapy-redis's), not secrets
NOT_SECRET = frozenset(
    {
        "DUPEFILTER_KEY",
        "PIPELINE_KEY",
        "STATS_KEY",
        "SCHEDULER_QUEUE_KEY",
        "SCHEDULER_DUPEFILTER_KEY",
        "START_URLS_KEY",
        "REDIS_START_URLS_KEY",
    }
)
DEFAULT_NOT_SECRET = {"FTP_PASSWORD": "guest"}  # Scrapy's defaults, known to all
URL_SETTINGS = ("REDIS_URL",)  # settings a ``*_ENV`` setting may name the variable of too
ENV_SUFFIX = "_ENV"
# query parameters whose value is a secret (a password, a token, a signed URL's signature)
SECRET_QUERY = re.compile(
    r"^(pass|passwd|password|pwd|secret|token|auth|authorization|signature|sig|"
    r"x-amz-signature|x-amz-security-token|x-amz-credential|"
    r".*(_|-)(key|secret|token|password))$",
    re.IGNORECASE,
)
REDIS_SCHEMES = ("redis", "rediss", "unix")
MIN_LENGTH = 4  # shorter values are masked where named (the settings dict), not in free text
ENV_MIN_LENGTH = 8  # an environment variable found by its name's suffix only
OVERRIDDEN = "Overridden settings:"  # Scrapy's crawler logs the settings it was given so


def is_secret_name(name: str) -> bool:
    """Whether a setting or environment variable of this name holds a secret."""
    upper = name.upper()
    if upper in AWS_CREDENTIALS:
        return True
    return upper.endswith(SECRET_SUFFIXES) and upper not in NOT_SECRET


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(scheme + '//', user info, host + path, '?' + query + fragment) of `url`, textually (so
    URLs urlsplit refuses split too); None when it has no '//'."""
    scheme, sep, rest = url.partition("//")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:", scheme):
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")  # the host starts after the last '@'
    tail = rest[end:]
    return scheme + sep, (userinfo + at), host + tail.partition("?")[0], tail.partition("?")[2]


def _secret_userinfo(scheme: str, userinfo: str) -> tuple[str, str]:
    """(what of `userinfo` is kept, the secret in it)."""
    user, colon, password = userinfo[:-1].partition(":")
    if colon:
        return f"{user}:", password
    if scheme.lower().rstrip(":/") in REDIS_SCHEMES:
        return "", user  # redis://secret@host: some clients take a lone user info for the password
    return userinfo[:-1], ""


def _query_pairs(query: str) -> Iterator[tuple[str, str, str, str]]:
    """(separator before, name, '=' or '', value) of each parameter of a query."""
    for match in re.finditer(r"(^|[&;])([^&;=]*)(=?)([^&;]*)", query):
        yield match.group(1), match.group(2), match.group(3), match.group(4)


def redact_url(url: str) -> str:
    """`url` fit for logs and messages: the password of its user info and the values of its
    secret query parameters replaced by ``***`` (a user name is kept). Textual: URLs urlsplit
    refuses are redacted too; a URL without secrets comes back unchanged."""
    parts = _split(url)
    if parts is None:
        return url
    scheme, userinfo, path, query = parts
    if userinfo:
        kept, secret = _secret_userinfo(scheme, userinfo)
        if secret or kept != userinfo[:-1]:
            userinfo = f"{kept}{MASK}@"
    if query:
        query, _, fragment = query.partition("#")
        out = []
        for sep, name, eq, value in _query_pairs(query):
            if value and SECRET_QUERY.match(unquote_plus(name)):
                value = MASK
            out.append(f"{sep}{name}{eq}{value}")
        query = "".join(out) + (f"#{fragment}" if fragment else "")
    return f"{scheme}{userinfo}{path}" + (f"?{query}" if query else "")


def url_secrets(url: str) -> set[str]:
    """The secrets `url` holds (as written and percent-decoded)."""
    found: set[str] = set()
    parts = _split(url)
    if parts is None:
        return found
    scheme, userinfo, _path, query = parts
    if userinfo:
        found.add(_secret_userinfo(scheme, userinfo)[1])
    for _sep, name, _eq, value in _query_pairs(query.partition("#")[0]):
        if value and SECRET_QUERY.match(unquote_plus(name)):
            found.add(value)
    found |= {unquote(s) for s in found} | {unquote_plus(s) for s in found}
    return {s for s in found if s}


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings in a setting's value (dict keys too: FEEDS is keyed by URI)."""
    if depth > 4:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, depth + 1)
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item, depth + 1)


def setting_secrets(settings: Mapping[str, Any]) -> set[str]:
    """The secrets the settings hold: secret-named values, passwords of URLs anywhere."""
    found: set[str] = set()
    for name in list(settings):
        value = settings[name]
        if is_secret_name(name) and DEFAULT_NOT_SECRET.get(name.upper()) != value:
            found.update(s for s in _strings(value) if s)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.add(str(value))
        for text in _strings(value):
            if "://" in text:
                found |= url_secrets(text)
    return found


def env_secrets(environ: Mapping[str, str], named: Iterable[str] = ()) -> set[str]:
    """The secrets of the environment: AWS credentials, secret-named variables (of at least
    ENV_MIN_LENGTH characters), URL passwords, and the variables in `named`."""
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        in_url = url_secrets(value) if "://" in value else set()
        if in_url:  # a URL's passwords: the rest of it (the host) stays readable
            found |= in_url
            continue
        wanted = name.upper() in AWS_CREDENTIALS or name in named
        if wanted or (is_secret_name(name) and len(value) >= ENV_MIN_LENGTH):
            found.add(value)
    return found


class Masker:
    """The secrets of this process, longest first; thread-safe (a new tuple on each add)."""

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            known = set(self.values) | {v for v in values if len(v) >= MIN_LENGTH}
            self.values = tuple(sorted(known, key=lambda v: (-len(v), v)))

    def mask(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text


MASKER = Masker()


def mask(text: str) -> str:
    """`text` with every secret known to this process replaced by ``***``."""
    return MASKER.mask(text)


def mask_data(value: Any) -> Any:
    """A JSON-like value with the secrets in its strings (and keys) masked."""
    if isinstance(value, str):
        return MASKER.mask(value)
    if isinstance(value, dict):
        return {mask_data(k): mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v) for v in value]
    return value


def mask_settings_text(text: str) -> str:
    """Scrapy's pformat of the overridden settings, secret-named ones masked by name."""
    try:
        shown = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return MASKER.mask(text)  # a value that is no literal: masked by value
    if not isinstance(shown, dict):
        return MASKER.mask(text)
    masked = {k: MASK if isinstance(k, str) and is_secret_name(k) and v else v
              for k, v in shown.items()}  # fmt: skip
    return MASKER.mask(pprint.pformat(masked))


_default_formatter = logging.Formatter()


def mask_record(record: logging.LogRecord) -> None:
    """Mask the secrets of a log record in place: its message (then with no arguments, made
    now), its traceback text."""
    try:
        args = record.args
        shown = args.get("settings") if isinstance(args, Mapping) else None
        if (
            isinstance(record.msg, str)
            and record.msg.startswith(OVERRIDDEN)
            and (isinstance(shown, str) and isinstance(args, Mapping))
        ):
            record.args = {**args, "settings": mask_settings_text(shown)}
        message = record.getMessage()
    except Exception:  # a bad format: logging reports it when a handler formats the record
        return
    masked = MASKER.mask(message)
    if masked != message or record.args is not args:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text and MASKER.values:
        text = _default_formatter.formatException(record.exc_info)
        masked = MASKER.mask(text)
        if masked != text:
            record.exc_text = masked  # handlers' formatters use the text made here


class SecretFilter(logging.Filter):
    """A handler's filter masking the records it gets (:func:`mask_record`); the second line
    of defence behind the record factory, for records made without it (``makeLogRecord``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if MASKER.values:
            mask_record(record)
        return True


SECRET_FILTER = SecretFilter()


def filter_handler(handler: logging.Handler) -> None:
    """Put the secret filter on `handler` (once)."""
    if SECRET_FILTER not in handler.filters:
        handler.addFilter(SECRET_FILTER)


_installed = False
_install_lock = threading.Lock()


def _install_factory() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if MASKER.values or record.msg == OVERRIDDEN + "\n%(settings)s":
                mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def env_setting_names(settings: Mapping[str, Any]) -> dict[str, str]:
    """``{NAME: variable}`` of the ``NAME_ENV`` settings that name a variable for a secret."""
    named: dict[str, str] = {}
    for name in list(settings):
        base = name[: -len(ENV_SUFFIX)]
        if name.upper().endswith(ENV_SUFFIX) and (is_secret_name(base) or base in URL_SETTINGS):
            variable = settings[name]
            if isinstance(variable, str) and variable.strip():
                named[base] = variable.strip()
    return named


def apply_env_settings(settings: MutableMapping[str, Any],
                       environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """Set each NAME a ``NAME_ENV`` setting names a variable for from that variable; a
    SettingsError (exit 2) when it is unset or empty. A Scrapy Settings keeps the priority of
    the ``_ENV`` setting."""
    from crawler.settings_check import SettingsError

    environ = os.environ if environ is None else environ
    for base, variable in env_setting_names(settings).items():
        value = environ.get(variable)
        if not value:
            raise SettingsError(f"{base}{ENV_SUFFIX} names the environment variable {variable}, "
                                "which is not set (or empty)")  # fmt: skip
        priority = getattr(settings, "getpriority", lambda _n: None)(f"{base}{ENV_SUFFIX}")
        if priority is not None:
            settings.set(base, value, priority=priority)  # type: ignore[attr-defined]
        else:
            settings[base] = value


def protect(settings: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """Mask the secrets of `settings` and of the environment in every log record this process
    makes from now on (and in :func:`mask`). Idempotent; may be called again with more."""
    environ = os.environ if environ is None else environ
    named = env_setting_names(settings).values() if settings is not None else ()
    found = env_secrets(environ, named)
    if settings is not None:
        found |= setting_secrets(settings)
    MASKER.add(found)
    _install_factory()
    for handler in logging.getLogger().handlers:  # Scrapy's, a LOG_FILE's, the run log's
        filter_handler(handler)


def reset() -> None:
    """Forget the secrets collected (tests)."""
    MASKER.values = ()
