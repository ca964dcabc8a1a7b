"""A page's URL identity: which URL a link is fetched at, and which URL it *is*.

A feed links ``…/story/?utm_source=rss&utm_medium=feed``, the section page ``…/story/``: one
article. :func:`url_forms` gives every link two forms:

- the **fetch form**, the URL requested (and written as the WARC record's ``WARC-Target-URI``):
  the link with its tracking parameters (:data:`TRACKING_PARAMS`, :data:`TRACKING_PREFIXES`)
  and its fragment removed, the other parameters in the order the outlet wrote them;
- the **identity** (canonical URL), what "seen already?" compares: the fetch form through
  :func:`w3lib.url.canonicalize_url` (the query sorted, the host lower-cased, percent-escapes
  normalised, the fragment gone). Scrapy's default request fingerprint is that same
  ``canonicalize_url`` of the request's URL, so its duplicate filter (and scrapy-redis's, in a
  distributed crawl) already tells fetch forms apart by their identity.

The string work is w3lib's (:func:`w3lib.url.url_query_cleaner`, ``canonicalize_url``); the
list of names is this module's: the common click and campaign trackers (Google, Facebook,
Microsoft, Mailchimp, Yandex, HubSpot, Matomo/Piwik, AT Internet, comScore…), matched without
regard to case. courlan's list (installed with trafilatura) is not used: it matches substrings
(``ref``, ``source``, ``ga``…), so it would drop ``?gallery=2`` or ``?refresh=1``. An outlet's
config key ``keep_params`` names tracking parameters it needs all the same (kept in both forms).

Pure functions; no settings. Used where links are made (:mod:`crawler.page_work`, in the page
workers; the spider for feeds, sitemaps and seeds) and by the manifest's migration
(:mod:`storage.schema`) for the rows stored before it recorded canonical URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from w3lib.url import canonicalize_url, url_query_cleaner

# exact parameter names (compared lower-cased)
TRACKING_PARAMS = frozenset({
    # Google Ads / Analytics / DoubleClick / Search Ads 360
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "_ga", "_gl", "_gac", "srsltid",
    # Facebook / Instagram, Microsoft, Twitter/X, TikTok, LinkedIn, Yandex, Pinterest
    "fbclid", "igshid", "igsh", "msclkid", "twclid", "ttclid", "li_fat_id", "yclid", "ysclid",
    "epik",
    # Mailchimp, Marketo, HubSpot, Vero, Oracle Eloqua, Omeda
    "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp",
    "hsctatracking", "vero_id", "vero_conv", "elqtrackid", "elqtrack", "oly_anon_id",
    "oly_enc_id", "rb_clickid", "s_cid", "wickedid",
    # news sites' own analytics: AT Internet (xtor), comScore (ns_*), NYT, MSN, Adobe
    "xtor", "at_medium", "at_campaign", "at_xtor", "ns_mchannel", "ns_source", "ns_campaign",
    "ns_linkname", "ns_fee", "smid", "smtyp", "ocid", "cmpid", "icid",
    "_openstat", "ito",
})  # fmt: skip
# name prefixes (compared lower-cased): Google's utm_*, Matomo's mtm_*, Piwik's pk_*,
# HubSpot ads' hsa_*
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_")


# a URL canonicalize_url gives back as it is (most article URLs): lower-case http(s) host, a
# path of unreserved characters (no %-escapes, no ';' params), no dot segments, no query
_CANONICAL_ALREADY = re.compile(
    r"https?://[a-z0-9.-]+(?::[1-9][0-9]{0,3})?/(?!.*/\.\.?(?:/|\Z))(?!\.\.?(?:/|\Z))"
    r"[A-Za-z0-9\-._~!$&'()*+,=:@/]*\Z"
)


class UrlForms(NamedTuple):
    fetch: str  # what is requested: tracking parameters and fragment removed
    identity: str  # the canonical URL: what "seen already?" and "archived already?" compare
    tracking_removed: bool  # the link had tracking parameters
    fragment_removed: bool  # ... a fragment
    params_kept: bool  # ... tracking parameters its outlet keeps (keep_params)


def is_tracking(name: str) -> bool:
    """Whether query parameter `name` is a tracker (whatever its case)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def keep_set(names: Iterable[str]) -> frozenset[str]:
    """An outlet's ``keep_params`` as :func:`url_forms` compares them (lower-cased)."""
    return frozenset(name.lower() for name in names)


def url_forms(url: str, keep: frozenset[str] = frozenset()) -> UrlForms:
    """The fetch form and the identity of `url` (see the module's docstring); `keep`: the
    outlet's ``keep_params`` (:func:`keep_set`). The identity of the fetch form is the same
    identity, and each form is its own fetch form: both are idempotent."""
    base, hash_, _fragment = url.partition("#")
    fetch, removed, kept = base, False, False
    _, question, query = base.partition("?")
    if question and query:
        names = {pair.partition("=")[0] for pair in query.split("&")}
        drop = []
        for name in names:
            if is_tracking(name):
                if name.lower() in keep:
                    kept = True
                else:
                    drop.append(name)
        if drop:
            fetch, removed = url_query_cleaner(base, drop, remove=True, unique=False), True
    if not hash_ and _CANONICAL_ALREADY.match(fetch):  # the same, at a fifth of the cost
        return UrlForms(fetch, fetch, removed, False, kept)
    identity = canonicalize_url(fetch)
    if identity == fetch:
        identity = fetch  # the same object: pickled once, kept once in memory
    return UrlForms(fetch, identity, removed, bool(hash_), kept)


def canonical_url(url: str, keep: frozenset[str] = frozenset()) -> str:
    """`url`'s identity: its canonical URL."""
    return url_forms(url, keep).identity


def canonical_or_none(url: str | None) -> str | None:
    """`url`'s identity by the default rules (no ``keep_params``), None for None; for sqlite (the
    manifest's migration): a URL it cannot read is kept as it is."""
    if url is None:
        return None
    try:
        return canonical_url(url)
    except ValueError:
        return url
