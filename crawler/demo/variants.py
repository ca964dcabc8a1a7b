"""Syndicated variants of one wire story, for the stories tests and benchmark (synthetic text).

``npa-sewage`` is a Nordpress Agency wire story published on the four demo outlets: verbatim
(wirehub: the same text, one stored text with two copies), with a paragraph of local reaction
added (valleydaily), with a new headline and the last paragraph trimmed (iconnews). Two
unrelated stories run the same days, one of them on a neighbouring subject (the county's
reservoirs), so that a loose grouping would show. :data:`CORRECTION` is the agency's updated
copy, published later (a second crawl): a near-duplicate that should join the story.
Publish them into a running :class:`~crawler.demo.DemoSite` with ``site.publish(story)``.
"""

# The stories are prose: typographic quotes and dashes are intended, not look-alikes.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import replace

from crawler.demo.content import Story

WIRE_TITLE = "Eastmoor Water fined £3.1m over sewage spill into the Wendle"
WIRE_PARAGRAPHS: tuple[str, ...] = (
    "NORTHGATE (NPA) – Eastmoor Water was fined £3.1m on Monday for letting untreated sewage "
    "pour into the River Wendle for almost two days last summer, the largest penalty ever "
    "imposed on a utility in the county.",
    "Magistrates in Northgate heard that a pump failed at the Heron Point treatment works on 4 "
    "July and that alarms went unanswered for 41 hours. By the time engineers arrived, an "
    "estimated nine million litres of waste had reached the river, killing fish along a "
    "six-kilometre stretch below the works.",
    "The regional environment agency, which brought the prosecution, said the company had "
    "ignored three earlier warnings about the same pump. District judge Annika Folau said the "
    "failures were “systemic rather than unlucky” and that the fine had to be large enough to "
    "be noticed in a boardroom.",
    "Eastmoor Water pleaded guilty at an earlier hearing. Its operations director, Callum "
    "Ostrander, apologised to anglers and residents and said the company had since spent £12m "
    "on new pumps, a second power supply and round-the-clock monitoring at Heron Point.",
    "Anglers’ groups welcomed the penalty but said the river would take years to recover. "
    "Surveys this spring found trout numbers below the works at less than a third of their "
    "level before the spill, and the agency has closed the stretch to fishing until next year.",
    "The company must also pay £240,000 in costs. The agency said it was investigating two "
    "further spills at other Eastmoor Water sites and expected to decide by the autumn whether "
    "to bring charges.",
)
WIRE_AUTHOR = "Ivo Brandtner"

LOCAL_PARAGRAPH = (
    "In Kellerby, where the river runs past the primary school, parents said the fine came too "
    "late. “The children planted four hundred trees on that bank and then watched dead fish "
    "float past them,” said parish councillor Dorothy Fenwick-Maas. “Money does not undo that.”"
)

WIRE = Story(
    outlet="nordpress", path="/wire/2025-03-17/eastmoor-water-fined", title=WIRE_TITLE,
    author=WIRE_AUTHOR, published="2025-03-17T11:00:00+00:00", section="/topics/economy",
    syndicated_group="npa-sewage", paragraphs=WIRE_PARAGRAPHS,
)  # fmt: skip
VERBATIM = replace(
    WIRE, outlet="wirehub", path="/article/58290/eastmoor-water-fined",
    published="2025-03-17T11:20:00+00:00", section="/category/regional",
)  # fmt: skip
ADDED_PARAGRAPH = replace(
    WIRE, outlet="valleydaily", path="/story/1044-eastmoor-water-fined-sewage-spill",
    published="2025-03-17T13:05:00+00:00", section="/section/news",
    paragraphs=(*WIRE_PARAGRAPHS[:5], LOCAL_PARAGRAPH, WIRE_PARAGRAPHS[5]),
)  # fmt: skip
NEW_HEADLINE = replace(
    WIRE, outlet="iconnews", path="/news/2025/03/17/record-fine-for-wendle-polluter.html",
    title="Record fine for the firm that poisoned our river",
    published="2025-03-17T15:30:00+00:00", section="/section/local",
    paragraphs=WIRE_PARAGRAPHS[:5],
)  # fmt: skip
VARIANTS: tuple[Story, ...] = (WIRE, VERBATIM, ADDED_PARAGRAPH, NEW_HEADLINE)

UNRELATED: tuple[Story, ...] = (
    Story(
        outlet="iconnews",
        path="/news/2025/03/17/reservoirs-full-after-wet-winter.html",
        title="Eastmoor reservoirs full for the first time in five years",
        author="Idris Bellweather",
        published="2025-03-17T09:40:00+00:00",
        section="/section/local",
        paragraphs=(
            "All four of the reservoirs that supply Aldercombe and the upper valley are full for "
            "the first time since 2020, after one of the wettest winters on record across "
            "Eastmoor.",
            "The water company said levels at Dunmere and Ostry Moor had been at or above 98 per "
            "cent of capacity since the middle of February, and that there was no prospect of a "
            "hosepipe ban this summer unless the spring turned exceptionally dry.",
            "Walkers have been drawn to the spillway at Ostry Moor, where overflowing water has "
            "been cascading down the stone steps for weeks. Rangers asked visitors to keep to the "
            "paths and to keep dogs on leads near the fast-flowing channel.",
            "Hydrologists warned that full reservoirs did not mean the region could stop saving "
            "water. Two dry summers in a row, they said, could bring levels down faster than most "
            "people expected, as happened in 2022.",
        ),
    ),
    Story(
        outlet="valleydaily",
        path="/story/1046-dunmere-rowing-club-new-boathouse",
        title="Dunmere rowing club opens its new boathouse",
        author="Noor Castellane",
        published="2025-03-17T18:00:00+00:00",
        section="/section/news",
        paragraphs=(
            "Dunmere Rowing Club opened its new boathouse on Saturday, ten years after the old "
            "timber shed was condemned and the club began storing its boats in a farmer’s barn.",
            "The building, paid for by a lottery grant and a decade of cake sales and sponsored "
            "rows, has racks for thirty boats, changing rooms and a viewing balcony over the "
            "finishing line of the club’s regatta course.",
            "Club captain Hamish Oyelaran said membership had doubled in two years and that the "
            "club now had a waiting list for its junior sessions. “We could never have kept those "
            "children if we had still been carrying boats across a muddy field,” he said.",
            "The first regatta in the new building is planned for June, when crews from across "
            "the county are expected to race over the 1,000-metre course.",
        ),
    ),
)

CORRECTION = replace(
    WIRE, path="/wire/2025-03-18/eastmoor-water-fined-updated",
    title="UPDATED: Eastmoor Water fined £3.1m over sewage spill into the Wendle",
    published="2025-03-18T08:15:00+00:00",
    paragraphs=(
        *WIRE_PARAGRAPHS[:3],
        WIRE_PARAGRAPHS[3].replace("£12m", "£14m"),
        *WIRE_PARAGRAPHS[4:],
        "Eastmoor Water said on Tuesday that it would not appeal against the fine.",
    ),
)  # fmt: skip
