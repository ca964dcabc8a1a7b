"""The demo site's content as data: four fictional outlets and their synthetic stories.

Everything here is invented for the project: the town of Aldercombe on the River Wendle, the
county of Eastmoor, its people, parties and companies. Paths are relative to an outlet's base
URL; :mod:`crawler.demo.site` turns them into absolute URLs once the ports are known.

A story's ``features`` decide how it can be discovered (see :data:`FEATURES`); stories without
``sitemap_only``/``feed_only``/``redirect``/``robots_disallowed`` are linked from the outlet's
HTML pages and listed in both its sitemaps and its feed; a ``section_only`` story (none of the
bundled ones: tests publish one) is linked from its section page alone.
"""

# The stories are prose: typographic quotes, dashes and Cyrillic are intended, not look-alikes.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass

# Every value a story's `features` may hold (mirrored by DemoArticle.features).
FEATURES = frozenset(
    {"gzip", "windows-1251", "redirect", "robots_disallowed", "sitemap_only", "feed_only",
     "section_only"}
)  # fmt: skip


@dataclass(frozen=True)
class Story:
    """One article page of one outlet, before the outlet's base URL is known."""

    outlet: str
    path: str
    title: str
    paragraphs: tuple[str, ...]  # standfirst first, as a reader sees it
    author: str
    published: str  # ISO 8601 with offset
    section: str  # path of the section page the story belongs to
    features: frozenset[str] = frozenset()
    syndicated_group: str | None = None
    old_path: str | None = None  # only with "redirect": the stale URL that answers 301
    lang: str = "en"

    @property
    def charset(self) -> str:
        return "windows-1251" if "windows-1251" in self.features else "utf-8"

    @property
    def linked(self) -> bool:
        """Reachable by following <a href> from the home page."""
        return not self.features & {"sitemap_only", "feed_only"}

    @property
    def in_sitemap(self) -> bool:
        # The redirected story is left out of sitemap and feed so that the only way to reach
        # it is through its old URL: a crawl that archives it has followed the 301.
        return not self.features & {"feed_only", "robots_disallowed", "redirect", "section_only"}

    @property
    def in_feed(self) -> bool:
        return not self.features & {"sitemap_only", "robots_disallowed", "redirect", "section_only"}

    @property
    def link_path(self) -> str:
        """The path HTML pages link to: the stale one for a redirected story."""
        return self.old_path or self.path


@dataclass(frozen=True)
class OutletSpec:
    """One outlet: its name in the config, its look, how it is discovered."""

    name: str
    site_name: str
    template: str  # key of crawler.demo.templates.ARTICLE_TEMPLATES
    sections: tuple[tuple[str, str], ...]  # (path, label)
    feed: str  # "rss" -> /rss.xml, "atom" -> /atom.xml
    sitemap_only_in: str  # "news" (gzipped news sitemap) or "plain" (plain sitemap)
    robots_disallow: tuple[str, ...] = ("/search",)
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    depth: int | None = 2
    language: str = "en"
    # linked from the home page but gone from the site: the crawl meets a real 404
    dead_links: tuple[str, ...] = ()

    @property
    def feed_path(self) -> str:
        return "/atom.xml" if self.feed == "atom" else "/rss.xml"


OUTLETS: tuple[OutletSpec, ...] = (
    OutletSpec(
        name="iconnews",
        site_name="The Aldercombe Beacon",
        template="iconfont",
        sections=(("/section/local", "Local"), ("/section/politics", "Politics")),
        feed="rss",
        sitemap_only_in="news",
        robots_disallow=("/drafts/", "/search"),
    ),
    OutletSpec(
        name="wirehub",
        site_name="PressWire Hub",
        template="aggregator",
        sections=(("/category/regional", "Regional"), ("/category/business", "Business")),
        feed="atom",
        sitemap_only_in="plain",
    ),
    OutletSpec(
        name="valleydaily",
        site_name="Wendle Valley Daily",
        template="regional",
        sections=(("/section/news", "News"), ("/section/politics", "Politics")),
        feed="rss",
        sitemap_only_in="news",
        allow=(r"/story/\d+-",),
        deny=("/video/",),
    ),
    OutletSpec(
        name="nordpress",
        site_name="Northgate Press Agency",
        template="wire",
        sections=(
            ("/topics/politics", "Politics"),
            ("/topics/economy", "Economy"),
            ("/topics/world", "World"),
        ),
        feed="rss",
        sitemap_only_in="plain",
        dead_links=("/wire/2025-03-09/story-withdrawn-by-agency",),
    ),
)

# Wire stories the agency (nordpress) sells: the same title and paragraphs reappear on a
# customer's site under a different URL and template.
ELECTION_TITLE = "Valley Alliance wins most seats in Eastmoor assembly election"
ELECTION_PARAGRAPHS = (
    "NORTHGATE (NPA) – The Valley Alliance emerged as the largest party in the Eastmoor Regional "
    "Assembly after Sunday’s election, but fell four seats short of a majority and will need a "
    "partner to govern for the next five years.",
    "With all 61 seats declared on Monday morning, the Alliance had won 27, up from 21 at the last "
    "election. The Eastmoor Progressives, who led the outgoing administration, dropped from 25 "
    "seats to 19, while the Civic League took 9 and independent candidates the remaining 6.",
    "Turnout was 58.3 per cent, the highest since the assembly was created, which election "
    "officials attributed partly to the introduction of early voting at libraries and town halls. "
    "Queues formed outside several polling stations in Northgate shortly before they closed at "
    "ten o’clock on Sunday evening.",
    "Alliance leader Josefina Ekwueme said she would begin talks with the Civic League and with "
    "independents “within days” and promised that any agreement would be published in full. The "
    "Civic League’s leader, Aurelio Banks, said his party would insist on an independent review "
    "of the Wendle Bridge repair contract as a condition of any deal.",
    "Outgoing first minister Callum Dreyfus conceded defeat in a short speech to supporters in "
    "Aldercombe. He said his party had “taken a clear message from voters” about the state of "
    "roads and public transport, and would hold a review of its campaign before deciding whether "
    "he should remain as leader.",
)
ELECTION_AUTHOR = "Piet van Oorschot"

RAIL_TITLE = "Rail union calls off Eastmoor strike after improved pay offer"
RAIL_PARAGRAPHS = (
    "NORTHGATE (NPA) – A union representing train drivers and conductors on the Eastmoor regional "
    "network has suspended a three-day strike planned for next week after the operator tabled a "
    "revised pay offer on Wednesday.",
    "The Rail & Transit Workers’ Federation said its executive had voted unanimously to put the "
    "new offer to members in a ballot that will close on 4 April. Services on all five regional "
    "lines will run normally in the meantime, the operator, Eastmoor Rail, confirmed in a "
    "statement.",
    "Under the revised proposal, staff would receive a 5.5 per cent increase backdated to "
    "January, followed by a further 2 per cent in October. The original offer of 4 per cent had "
    "been rejected by 78 per cent of those who voted in a ballot last month, prompting the union "
    "to announce the walkout.",
    "Federation general secretary Moira Tallack said the new deal was “a serious offer that "
    "deserves a serious look”, but stopped short of recommending it. The operator said the "
    "improved terms would be paid for by changes to rostering that had been discussed with the "
    "union for more than a year.",
    "Passenger groups welcomed the suspension. The Eastmoor Rail Users’ Association said "
    "commuters who had already arranged to work from home or pay for extra parking should not be "
    "left out of pocket, and asked the operator to honour refunds for advance tickets bought for "
    "the strike days.",
)
RAIL_AUTHOR = "Kasia Wrenfield"


STORIES: tuple[Story, ...] = (
    # ------------------------------------------------------------------ iconnews (icon-font)
    Story(
        outlet="iconnews",
        path="/news/2025/03/14/wendle-bridge-to-close.html",
        title="Wendle Bridge to close for six months after inspectors find cracked bearings",
        author="Marta Olsen-Reed",
        published="2025-03-14T07:45:00+00:00",
        section="/section/local",
        paragraphs=(
            "The 1930s crossing that carries most of the traffic between Aldercombe and the "
            "eastern estates will shut to vehicles from 1 April, the county engineering office "
            "confirmed on Thursday, after a routine survey turned up serious faults.",
            "Inspectors working beneath the deck last month found hairline cracks in three of the "
            "eight steel bearings that let the bridge expand and contract with the seasons. Chief "
            "engineer Renée Fauvel said the damage was “not an immediate danger to anyone crossing "
            "today”, but warned that the bearings could seize if the cracks were left to spread "
            "through another winter.",
            "Around 14,000 vehicles use the bridge on an average weekday, according to the "
            "county’s latest traffic count. Buses on routes 4 and 11 will be diverted over the "
            "Mill Lane crossing, adding between ten and fifteen minutes to most journeys, while "
            "pedestrians and cyclists will be able to use a temporary walkway on the downstream "
            "side for most of the closure.",
            "Shopkeepers on Quayside Street reacted with dismay. “We lived through the last "
            "closure in 2009 and half the street nearly went under,” said Olwen Pryce, who runs a "
            "hardware shop a few doors from the bridge. She urged the council to offer "
            "business-rate relief for the months the work lasts.",
            "The repair contract, worth an estimated £6.2m, has been awarded to Harrowgate Civil "
            "& Marine, which replaced the bearings on the Fennick Bay viaduct two years ago. Work "
            "will take place in two phases so that the temporary walkway can stay open, and the "
            "county has promised weekly progress updates on its website.",
            "Council leader Harriet Quell said the timing was regrettable but unavoidable. "
            "“Nobody wants to close a bridge in spring,” she told the Beacon. “But the "
            "alternative is an emergency closure next winter with no plan and no walkway, and "
            "that would be far worse for everyone in Aldercombe.”",
        ),
    ),
    Story(
        outlet="iconnews",
        path="/news/2025/03/13/council-passes-budget.html",
        title="Aldercombe council passes £48m budget after late-night session",
        author="Daniel Achterberg",
        published="2025-03-13T22:10:00+00:00",
        section="/section/politics",
        paragraphs=(
            "Councillors approved next year’s spending plan by 23 votes to 17 shortly before "
            "midnight on Wednesday, ending a five-hour debate dominated by library hours, road "
            "repairs and a proposed rise in parking charges.",
            "The budget raises council tax by 3.9 per cent, just below the limit above which a "
            "local referendum would be required. Finance chair Tomasz Brennick said the increase "
            "would bring in an extra £1.4m, most of which will go towards adult social care, where "
            "costs have risen by almost a fifth in two years.",
            "Opposition members attacked plans to raise the charge for an all-day ticket at the "
            "Riverside car park from £4 to £6. Councillor Priya Haldane said the change would "
            "“punish the very people we are asking to shop locally” while the Wendle Bridge is "
            "closed, and tabled an amendment to delay it until the autumn. The amendment was "
            "defeated.",
            "A proposal to cut Saturday opening at the branch libraries in Ostry and Kellerby was "
            "withdrawn earlier in the evening after a petition signed by more than 2,600 "
            "residents was presented to the chamber. Officers will now look for the £85,000 "
            "saving elsewhere in the cultural services budget.",
            "The plan also sets aside £2m for resurfacing, which the council says will cover "
            "about nine miles of road. Mr Brennick admitted that figure was “a sticking plaster” "
            "compared with the backlog, estimated by officers at £31m, and said the council would "
            "keep lobbying the regional assembly for extra highways funding.",
        ),
    ),
    Story(
        outlet="iconnews",
        path="/news/2025/03/15/riverside-market-returns.html",
        title="Riverside market returns with record number of stalls",
        author="Marta Olsen-Reed",
        published="2025-03-15T10:00:00+00:00",
        section="/section/local",
        features=frozenset({"sitemap_only"}),
        paragraphs=(
            "Aldercombe’s Saturday market reopened on the Quayside for the new season this "
            "weekend with 112 traders, the largest line-up since the market moved to the "
            "riverbank more than twenty years ago.",
            "Organisers had feared that the looming closure of the Wendle Bridge would keep "
            "visitors away, but stallholders reported steady trade from the moment the gates "
            "opened at eight o’clock. Cheese, bread and plant stalls had queues by mid-morning, "
            "and several food vans sold out before lunch.",
            "New this year is a covered section for young makers, where pitches are offered free "
            "for the first three months to traders under twenty-five. Jewellery maker Ffion "
            "Adeyemi, nineteen, said the scheme had given her the confidence to sell in person for "
            "the first time after two years of trading only online.",
            "Market manager Colm Rafferty said the organisers would run a free shuttle bus from "
            "the Mill Lane car park once the bridge shuts in April. “People have told us they will "
            "still come, as long as they can get here without sitting in traffic for an hour,” he "
            "said.",
        ),
    ),
    Story(
        outlet="iconnews",
        path="/news/2025/03/16/flood-warning-lower-wendle.html",
        title="Flood warning issued for lower Wendle as rain persists",
        author="Idris Bellweather",
        published="2025-03-16T06:30:00+00:00",
        section="/section/local",
        features=frozenset({"feed_only"}),
        paragraphs=(
            "The regional environment agency issued a flood warning for low-lying streets along "
            "the lower Wendle early on Sunday, after a third straight day of heavy rain pushed "
            "river levels close to the top of the town’s defences.",
            "Gauges at Mill Lane showed the river at 3.4 metres at five in the morning, about "
            "forty centimetres below the level at which water begins to spill onto the towpath. "
            "Forecasters expect another 20 to 30 millimetres of rain before the weather clears on "
            "Monday afternoon.",
            "Residents of Tanner’s Row and the lower end of Quayside Street have been advised to "
            "move valuables upstairs and to keep cars away from the riverside car park. Sandbags "
            "are available from the fire station on Ostry Road, where volunteers were loading "
            "vehicles throughout Saturday evening.",
            "Council officers stressed that the warning has no connection with the faults found "
            "in the Wendle Bridge, which remains open until its planned closure in April. "
            "Engineers carried out an extra check of the structure on Saturday and found no change "
            "in its condition.",
            "The last serious flood on the lower Wendle, in February 2014, damaged more than "
            "sixty homes. The defences built after that event have not yet been overtopped, but "
            "the agency said they were “being tested harder than at any point since they were "
            "finished”.",
        ),
    ),
    Story(
        outlet="iconnews",
        path="/drafts/budget-reaction-draft.html",
        title="DRAFT: Budget reaction from business owners (not for publication)",
        author="Daniel Achterberg",
        published="2025-03-14T12:00:00+00:00",
        section="/section/politics",
        features=frozenset({"robots_disallowed"}),
        paragraphs=(
            "Unedited notes for a follow-up piece gathering reaction from business owners to the "
            "council’s spending plan; this page is a working draft and must never appear in any "
            "public archive or search index.",
            "Business owners on Quayside Street gave a mixed response on Thursday to the budget "
            "agreed by councillors, welcoming extra money for road repairs but questioning the "
            "timing of higher parking charges during the bridge closure. Quotes from at least "
            "three traders still need to be confirmed by phone before this piece can run.",
            "The chamber of commerce is expected to issue a formal statement next week. Its chair "
            "has been asked whether members would support a temporary parking discount, and "
            "whether the group will write to the regional assembly about the cost of the repairs. "
            "No answer had been received when these notes were written.",
            "Reminder before filing: check the turnout figure for the public meeting, confirm the "
            "spelling of every trader’s name and delete this paragraph. The photo desk has been "
            "asked for a picture of the Riverside car park ticket machines, ideally taken on a "
            "busy Saturday morning.",
        ),
    ),
    # ------------------------------------------------------------------ wirehub (aggregator)
    Story(
        outlet="wirehub",
        path="/article/58211/ferry-operators-add-crossings",
        title="Ferry operators add crossings as Wendle Bridge closure nears",
        author="Lena Marchetti",
        published="2025-03-17T09:05:00+00:00",
        section="/category/regional",
        features=frozenset({"gzip"}),
        paragraphs=(
            "Two small ferry companies on the Wendle are adding early-morning and evening sailings "
            "to carry commuters between Aldercombe and the eastern estates while the town’s main "
            "bridge is shut for repairs.",
            "Wendle Water Taxis will run a boat every twenty minutes from 6.30am until 9pm on "
            "weekdays, three times its current winter timetable. Its rival, the family-run Ostry "
            "Ferry, said it had bought a second vessel from an operator on the coast and would add "
            "crossings once the boat had passed its safety inspection.",
            "Fares will be capped at £2 for a single journey under an agreement with the county, "
            "which is paying a subsidy of around £180,000 for the duration of the closure. Season "
            "tickets will be available to residents who can show a postcode on the eastern side of "
            "the river.",
            "Harbourmaster Ana Cristina Leitão said extra moorings would be installed at the "
            "Quayside landing stage and at Heron Point, and that both sites would be staffed at "
            "peak times. “We have not had this many boats crossing in one place since the old "
            "chain ferry stopped running in the 1970s,” she said.",
            "Cycling groups have asked the operators to reserve space for bikes on every crossing. "
            "Wendle Water Taxis said its boats could carry six bicycles each, but warned that "
            "passengers with bikes might have to wait for a later sailing at the busiest times of "
            "day.",
        ),
    ),
    Story(
        outlet="wirehub",
        path="/article/58140/rail-union-calls-off-strike",
        title=RAIL_TITLE,
        author=RAIL_AUTHOR,
        # the wire's copy ran the evening before: the archive names the wire's copy first
        published="2025-03-13T07:10:00+00:00",
        section="/category/business",
        syndicated_group="npa-rail-strike",
        paragraphs=RAIL_PARAGRAPHS,
    ),
    Story(
        outlet="wirehub",
        path="/article/58097/fennick-bay-port-busiest-winter",
        title="Port of Fennick Bay reports busiest winter in a decade",
        author="Lena Marchetti",
        published="2025-03-11T11:20:00+00:00",
        section="/category/business",
        features=frozenset({"sitemap_only"}),
        paragraphs=(
            "The Port of Fennick Bay handled 1.9 million tonnes of cargo between December and "
            "February, its highest winter total for ten years, as timber and grain shipments "
            "offset a fall in container traffic.",
            "Timber imports rose by almost a third compared with the same months a year earlier, "
            "driven by demand from sawmills in the upper Wendle valley. Grain exports were also "
            "strong after a good harvest, with seven bulk carriers loaded at the north quay in "
            "January alone.",
            "Container volumes fell by 6 per cent, which the port attributed to a shipping line "
            "moving one of its weekly services to a larger harbour further along the coast. Chief "
            "executive Bram Oosterhuis said talks were under way with two other lines about calls "
            "at Fennick Bay later in the year.",
            "The port also confirmed that dredging of the main channel, delayed last autumn by a "
            "dispute over where to dump the spoil, would start in May. The work will allow ships "
            "with a draught of up to eleven metres to enter at any state of the tide, up from nine "
            "and a half metres today.",
        ),
    ),
    Story(
        outlet="wirehub",
        path="/article/58302/late-frost-orchards",
        title="Eastmoor fruit growers fear late frost damage to orchards",
        author="Tobiah Grenn",
        published="2025-03-18T08:00:00+00:00",
        section="/category/regional",
        features=frozenset({"feed_only"}),
        paragraphs=(
            "Apple and pear growers across Eastmoor are counting the cost of two nights of hard "
            "frost that arrived just as early varieties were coming into blossom, with some "
            "orchards reporting losses of up to half their buds.",
            "Temperatures fell to minus five degrees in parts of the upper valley on Saturday and "
            "Sunday nights, according to the regional weather service. Growers lit frost candles "
            "and ran sprinklers through the night to protect trees, but many smaller farms do not "
            "have the equipment to do either.",
            "Helga Sørensen, who grows cider apples on twelve hectares near Dunmere, said it would "
            "be several weeks before the full extent of the damage was clear. “Some of the buds "
            "will look fine now and simply fall later,” she said. “We will not really know until "
            "the fruit sets in May.”",
            "The Eastmoor Growers’ Cooperative has asked the regional assembly to extend a "
            "hardship fund set up after the drought two years ago. A spokesman for the assembly’s "
            "agriculture committee said members would consider the request once they had seen an "
            "assessment of the losses.",
        ),
    ),
    # ------------------------------------------------------------------ valleydaily (regional)
    Story(
        outlet="valleydaily",
        path="/story/1042-bridge-closure-detour-sends-lorries-through-kellerby",
        old_path="/story/1042-detour-chaos-kellerby",
        title="Bridge closure detour sends lorries through Kellerby village",
        author="Gwen Ashdown",
        published="2025-03-18T17:30:00+00:00",
        section="/section/news",
        features=frozenset({"redirect"}),
        paragraphs=(
            "Residents of Kellerby say their narrow main street has become a rat run for heavy "
            "goods vehicles after satellite navigation systems began routing traffic around the "
            "soon-to-close Wendle Bridge through the village.",
            "Parish councillors counted 214 lorries passing the village school between seven in "
            "the morning and seven in the evening on Tuesday, compared with fewer than thirty on "
            "a typical day last year. Several drivers were seen mounting the pavement outside the "
            "post office to squeeze past parked cars.",
            "The county’s official diversion sends heavy vehicles along the ring road and over the "
            "Mill Lane crossing, but that route is about four miles longer. Parish council chair "
            "Dorothy Fenwick-Maas said lorry drivers were “simply following their screens” and "
            "called for a weight limit on the village street before the bridge closes.",
            "Highways officers said they would install temporary signs at both ends of the village "
            "within a fortnight and had written to the main navigation companies asking them to "
            "update their maps. A permanent weight restriction would require a public "
            "consultation, which could take several months.",
            "Parents have organised a rota of volunteers to help children cross the road at the "
            "start and end of the school day. “We should not have to do this,” said Sunil "
            "Marković, whose two daughters attend the village school. “Somebody is going to get "
            "hurt before anything changes.”",
        ),
    ),
    Story(
        outlet="valleydaily",
        path="/story/1037-valley-alliance-wins-most-seats",
        title=ELECTION_TITLE,
        author=ELECTION_AUTHOR,
        published="2025-03-10T07:30:00+00:00",
        section="/section/politics",
        syndicated_group="npa-election",
        paragraphs=ELECTION_PARAGRAPHS,
    ),
    Story(
        outlet="valleydaily",
        path="/story/1039-kellerby-pupils-plant-trees",
        title="Kellerby pupils plant 400 trees along the Wendle",
        author="Gwen Ashdown",
        published="2025-03-12T13:00:00+00:00",
        section="/section/news",
        features=frozenset({"sitemap_only"}),
        paragraphs=(
            "Children from Kellerby Primary School spent two mornings this week planting 400 "
            "native trees on a stretch of riverbank that was cleared of invasive weeds last "
            "autumn by volunteers from the village.",
            "The saplings, a mix of alder, willow, hazel and hawthorn, were donated by a nursery "
            "in Dunmere. Teachers said the project was designed to fit with the school’s science "
            "lessons on rivers, and pupils will return each term to measure how the trees are "
            "growing and record the birds and insects that visit.",
            "Headteacher Ruth Abernethy said the children had been given a say in where each tree "
            "went. “They argued about it with great seriousness,” she said. “One group insisted "
            "the willows had to be closest to the water because they ‘like having wet feet’, and "
            "they were absolutely right.”",
            "The regional rivers trust, which organised the planting, said the trees would help to "
            "shade the water and keep it cool in summer, which benefits trout and other fish. It "
            "hopes to plant a further 1,500 trees along the same stretch over the next three "
            "winters if funding can be found.",
        ),
    ),
    Story(
        outlet="valleydaily",
        path="/story/1045-dunmere-library-sunday-opening",
        title="Dunmere library to open on Sundays from April",
        author="Noor Castellane",
        published="2025-03-19T09:15:00+00:00",
        section="/section/news",
        features=frozenset({"feed_only"}),
        paragraphs=(
            "Dunmere’s library will open on Sunday afternoons for the first time in its history "
            "from the start of April, as part of a one-year trial that the county hopes will "
            "attract families and people who work during the week.",
            "The building on Chapel Street will open from midday until four o’clock, with the "
            "children’s section, the computer room and the local history collection all "
            "available. Staff will be drawn from a pool of volunteers and part-time workers, and "
            "no existing employees will be required to work Sundays.",
            "Library users have campaigned for weekend hours since the branch stopped opening on "
            "Saturday afternoons in 2016. Campaign organiser Beatriz Holloway-Nunes said she was "
            "delighted but cautious. “A trial is a start,” she said. “We will need to use it, or "
            "the county will say nobody wanted it.”",
            "The county will publish visitor numbers each quarter. If the Sunday sessions draw "
            "more than 150 people a week on average, the trial is likely to be extended to the "
            "libraries in Ostry and Kellerby, according to a report considered by the cultural "
            "services committee last month.",
        ),
    ),
    # ------------------------------------------------------------------ nordpress (wire copy)
    Story(
        outlet="nordpress",
        path="/wire/2025-03-10/eastmoor-election-result",
        title=ELECTION_TITLE,
        author=ELECTION_AUTHOR,
        published="2025-03-10T06:00:00+00:00",
        section="/topics/politics",
        syndicated_group="npa-election",
        paragraphs=ELECTION_PARAGRAPHS,
    ),
    Story(
        outlet="nordpress",
        path="/wire/2025-03-12/rail-strike-called-off",
        title=RAIL_TITLE,
        author=RAIL_AUTHOR,
        published="2025-03-12T15:40:00+00:00",
        section="/topics/economy",
        syndicated_group="npa-rail-strike",
        paragraphs=RAIL_PARAGRAPHS,
    ),
    Story(
        outlet="nordpress",
        path="/bg/2025-03-15/belorechie-nov-most",
        title="Нов пешеходен мост свързва двата бряга на Бяла река в Белоречие",
        author="Десислава Крумова",
        published="2025-03-15T12:00:00+02:00",
        section="/topics/world",
        features=frozenset({"windows-1251"}),
        lang="bg",
        paragraphs=(
            "БЕЛОРЕЧИЕ (НПА) – Новият пешеходен мост над Бяла река беше открит в събота пред "
            "стотици жители на града, които от години чакаха по-безопасен път между училището и "
            "новия квартал на северния бряг.",
            "Съоръжението е дълго 86 метра и е изградено от стомана и дърво. Според общината "
            "строителството е струвало около 2,4 милиона лева, като по-голямата част от "
            "средствата са осигурени от регионална програма за развитие. Мостът е осветен през "
            "нощта и има отделна лента за велосипеди.",
            "Кметът Стефан Горанов заяви, че старият дървен мост, построен преди повече от "
            "петдесет години, е бил затворен миналата есен след проверка, която откри сериозни "
            "повреди в опорите. „Децата трябваше да заобикалят почти два километра по натоварения "
            "път. Сега това вече е минало“, каза той.",
            "Жителите на северния квартал посрещнаха новината с облекчение. Учителката Невена "
            "Илиева разказа, че много родители са карали децата си с коли до училище само заради "
            "липсата на безопасен път. Според нея новият мост ще намали задръстванията сутрин и "
            "ще насърчи повече хора да ходят пеша.",
            "Общината планира през лятото да засади дървета и да постави пейки на двата бряга "
            "около моста. Местни художници вече предложиха да украсят парапетите с рисунки, "
            "вдъхновени от историята на града и реката, а окончателните проекти ще бъдат избрани "
            "след обществено обсъждане.",
        ),
    ),
    Story(
        outlet="nordpress",
        path="/wire/2025-03-13/eastmoor-unemployment-record-low",
        title="Eastmoor unemployment falls to lowest level on record",
        author=RAIL_AUTHOR,
        published="2025-03-13T10:30:00+00:00",
        section="/topics/economy",
        features=frozenset({"sitemap_only"}),
        paragraphs=(
            "NORTHGATE (NPA) – Unemployment in Eastmoor fell to 3.6 per cent in the three months "
            "to February, the lowest rate since the regional statistics office began publishing "
            "comparable figures almost thirty years ago.",
            "The number of people in work rose by about 4,200 over the quarter, with the biggest "
            "gains in construction, health care and logistics. The statistics office said the "
            "construction figure had been boosted by several large infrastructure projects, "
            "including flood defences on the lower Wendle and a new depot for Eastmoor Rail.",
            "Wage growth slowed slightly to 4.1 per cent a year, which economists said suggested "
            "the labour market was cooling gently rather than overheating. “Employers are still "
            "hiring, but they are no longer having to outbid each other for every vacancy,” said "
            "Imogen Hartsell, an economist at Northgate University.",
            "The figures showed a sharp difference between areas. Unemployment in Northgate and "
            "the coastal towns was below 3 per cent, while parts of the upper valley, where two "
            "sawmills closed last year, recorded rates above 6 per cent. Trade unions called for "
            "targeted retraining money for those districts.",
        ),
    ),
    Story(
        outlet="nordpress",
        path="/wire/2025-03-19/beacon-hill-observatory-reopens",
        title="Northgate observatory reopens after telescope restoration",
        author=ELECTION_AUTHOR,
        published="2025-03-19T14:00:00+00:00",
        section="/topics/world",
        features=frozenset({"feed_only"}),
        paragraphs=(
            "NORTHGATE (NPA) – The Victorian observatory on Beacon Hill reopened to the public on "
            "Wednesday after an eighteen-month restoration of its main telescope, which had not "
            "been used for regular observing since the 1980s.",
            "Specialists dismantled the 150-year-old refracting telescope and cleaned its lens, "
            "rebuilt the clockwork drive that allows it to follow the stars across the sky, and "
            "repaired the copper dome, which had leaked for decades. The project cost about "
            "£900,000, most of it raised from a heritage fund and private donations.",
            "The observatory will hold public viewing evenings twice a month on clear nights, "
            "with places booked in advance. Volunteer astronomer Zoë Pemberton-Ilić said the first "
            "test views of Jupiter had left the team “completely speechless”, adding that the old "
            "lens gave sharper images than many modern instruments.",
            "Schools in the region will be offered free daytime visits, including demonstrations "
            "of how the dome turns and how astronomers worked before computers. The trust that "
            "runs the observatory hopes to add a small exhibition about the astronomer who founded "
            "it, whose notebooks were found in the building’s attic during the restoration.",
        ),
    ),
)
