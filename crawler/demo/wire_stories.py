"""The demo's wire stories as data: the agency's copy (nordpress) and the regional paper that
prints it (valleydaily); with the town outlets' they make :data:`crawler.demo.stories.STORIES`.

The election and rail stories are sold by the agency: the same title and paragraphs reappear
on a customer's site under a different URL and template (the syndicated copies). Everything
here is invented (see :mod:`crawler.demo.content`). Reads no settings.
"""

# The stories are prose: typographic quotes, dashes and Cyrillic are intended, not look-alikes.
# ruff: noqa: RUF001

from __future__ import annotations

from crawler.demo.content import Story

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

WIRE_STORIES: tuple[Story, ...] = (
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
