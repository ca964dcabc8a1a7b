"""The synthetic site's words: every sentence it prints is drawn from a fixed list of plain
words (no real names), with a RNG seeded by the site's seed, once per site (:class:`SentencePool`).
"""

from __future__ import annotations

import json
import random

# Plain words, no real names: every sentence the site prints is drawn from these. (A block of
# words reads better than a 260-item list literal.)
WORDS = """
council harbour river bridge budget minister committee report hospital school teachers
residents station railway ferry market farmers weather forecast flood rain storm drought
election candidates voters turnout coalition assembly mayor district province valley
mountain coast village town city centre museum library archive festival theatre orchestra
season league match striker goalkeeper coach injury transfer stadium supporters ticket
prices inflation wages pensions taxes investment factory workers union strike talks
agreement contract tender project plan proposal review inquiry evidence witness court judge
ruling appeal sentence police officers investigation suspect charges statement spokesperson
officials agency department ministry regulator company shares profits losses quarter
growth forecast exports imports shipping port cargo containers energy grid power plant
solar wind turbines emissions targets climate research scientists study university
laboratory data results survey sample patients doctors nurses clinic vaccine treatment
waiting lists funding grant charity volunteers community neighbours families children
parents students exams curriculum housing rents tenants landlords planning permission
roads traffic cyclists pedestrians buses drivers fuel airport flights passengers delays
tourism visitors hotels restaurants harvest fishing boats quota lake forest wildlife park
rangers heritage monument restoration repairs engineers inspectors cracks bearings closure
detour commuters morning evening week month year decade history tradition record level
lowest highest rising falling steady sharp modest significant unexpected gradual early late
new old local regional national northern southern eastern western central upper lower
said told announced confirmed denied warned expected estimated reported added explained
agreed rejected approved delayed opened closed launched completed started finished raised
cut increased reduced published released signed joined left returned moved built repaired
""".split()  # noqa: SIM905
CONNECTORS = ("and", "but", "while", "after", "before", "because", "although", "as", "since")
FIRST_NAMES = ("Ardo", "Belin", "Corra", "Dessa", "Evor", "Fenna", "Galo", "Hesta", "Ivel")
LAST_NAMES = ("Marrow", "Tolven", "Quist", "Ravel", "Sundt", "Orlan", "Pellin", "Vasko")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 12))]
    if rng.random() < 0.5:
        words += [rng.choice(CONNECTORS)] + [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), str(rng.randint(2, 9800)))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....!?")


class SentencePool:
    """Sentences drawn once per seed; pages pick from them. Picking pre-built sentences keeps a
    page at well under a millisecond of Python, so the server never holds the crawl back, and
    with 6000 sentences and 30-90 picks per article no two articles share a text."""

    def __init__(self, seed: int, size: int = 6000) -> None:
        rng = random.Random(seed)
        self.sentences = [_sentence(rng) for _ in range(size)]
        self.quoted = [json.dumps(x) for x in self.sentences]  # ready for the JSON blob
