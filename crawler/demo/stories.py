"""The demo site's synthetic stories as data: :data:`STORIES`, every outlet's, in order.

Here the town outlets' (iconnews, wirehub); the agency's and the regional paper's are in
:mod:`crawler.demo.wire_stories`. A story's ``features`` decide how it can be discovered
(:data:`crawler.demo.content.FEATURES`). Everything here is invented. Reads no settings.
"""

# The stories are prose: typographic quotes, dashes and Cyrillic are intended, not look-alikes.
# ruff: noqa: RUF001

from __future__ import annotations

from crawler.demo.content import Story
from crawler.demo.wire_stories import RAIL_AUTHOR, RAIL_PARAGRAPHS, RAIL_TITLE, WIRE_STORIES

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
    *WIRE_STORIES,
)
