"""Demo stories for `flask seed-demo`: written for this project, spread over the topics
and the last weeks. Known by their address, so seeding again adds nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from membership.extensions import db
from membership.sql import insert_or_ignore
from membership.topics.models import Story, StoryTopic, Topic

BASE_URL = "https://news.example.org/demo"

# (days ago, slug, title, summary, topic slugs)
STORIES = [
    (0, "kabul-schools", "Girls' home schools in Kabul adapt to a third winter",
     "Teachers describe how small classes in private homes keep going as heating costs rise.",
     ["afghanistan", "human-rights"]),
    (0, "gaza-water", "Desalination units reach northern Gaza neighbourhoods",
     "Aid groups say two mobile plants now supply drinking water to about 40,000 people.",
     ["gaza", "human-rights"]),
    (1, "knesset-budget", "Coalition partners split over the defence budget",
     "A vote planned for next week tests the government's majority in the Knesset.",
     ["israel", "politics", "security"]),
    (1, "ramallah-olive", "A smaller olive harvest and a longer road to market",
     "Farmers around Ramallah report lower yields and new checkpoints on delivery routes.",
     ["palestinian-territories", "business-and-economy"]),
    (2, "lahore-smog", "Lahore's schools close again as smog returns",
     "Air quality readings passed hazardous levels for the fourth day in a row.",
     ["pakistan"]),
    (2, "abu-dhabi-solar", "Abu Dhabi switches on another desert solar park",
     "The plant adds 1.5 gigawatts and pairs panels with battery storage for the evening peak.",
     ["uae", "energy", "technology"]),
    (3, "tehran-currency", "Rial slides as talks on sanctions stall",
     "Money changers in Tehran say savers are buying gold and dollars again.",
     ["iran", "business-and-economy", "diplomacy"]),
    (3, "basra-heat", "Basra's power cuts spark protests in the late heat",
     "Residents blocked roads after supply fell to a few hours a day.",
     ["iraq", "energy", "politics"]),
    (4, "amman-refugees", "Jordan extends work permits for Syrian refugees",
     "The renewal covers agriculture and construction for another year.",
     ["jordan", "syria", "human-rights"]),
    (4, "beirut-banks", "Depositors in Beirut wait for a bank restructuring law",
     "Five years after the crash, savers still withdraw dollars in small monthly amounts.",
     ["lebanon", "business-and-economy"]),
    (5, "aleppo-rebuild", "Aleppo's old souk reopens stall by stall",
     "Craftsmen are restoring vaulted ceilings with stone from the original quarries.",
     ["syria", "culture"]),
    (6, "cairo-metro", "Cairo's new metro line cuts a two-hour commute",
     "Passengers from the eastern suburbs now reach downtown in under 40 minutes.",
     ["egypt", "technology"]),
    (7, "riyadh-cinema", "Riyadh film festival closes with a record audience",
     "Regional productions won most prizes, including two debut features.",
     ["saudi-arabia", "culture"]),
    (8, "ankara-inflation", "Turkey's central bank holds rates as inflation eases",
     "Annual inflation fell for the sixth month but remains above 40 percent.",
     ["turkey", "business-and-economy"]),
    (9, "aden-port", "Shipping returns slowly to the port of Aden",
     "Insurers have cut war-risk premiums for vessels calling at the southern port.",
     ["yemen", "security", "business-and-economy"]),
    (10, "doha-mediation", "Doha hosts a new round of ceasefire mediation",
     "Negotiators met separately with each delegation, officials said.",
     ["qatar", "gaza", "israel", "diplomacy"]),
    (11, "baku-gas", "Azerbaijan signs gas supply deals with two EU states",
     "The agreements expand exports through the southern pipeline corridor.",
     ["azerbaijan", "energy", "diplomacy"]),
    (12, "herat-earthquake", "A year after the Herat earthquake, villages rebuild in stone",
     "Families moved back into houses designed to withstand strong tremors.",
     ["afghanistan"]),
    (13, "jerusalem-pilgrims", "Pilgrims return to Jerusalem's Old City for the holidays",
     "Hotel owners report the best bookings since before the war.",
     ["israel", "palestinian-territories", "religion"]),
    (14, "khan-younis-clinic", "A field clinic in Khan Younis treats 600 patients a day",
     "Doctors say most cases are infections linked to crowded shelters.",
     ["gaza", "human-rights"]),
    (16, "karachi-startups", "Karachi's fintech start-ups look beyond the banks",
     "Mobile wallets now reach shopkeepers who never had an account.",
     ["pakistan", "technology", "business-and-economy"]),
    (18, "dubai-labour", "Dubai's midday work ban ends for the season",
     "Rights groups want the summer rule tied to temperature, not to the calendar.",
     ["uae", "human-rights"]),
    (21, "jenin-raid", "Overnight raid in Jenin leaves three dead",
     "Residents describe a curfew and damaged roads in the camp.",
     ["palestinian-territories", "security"]),
    (24, "islamabad-talks", "Islamabad and Kabul reopen the Torkham crossing",
     "Trucks waiting for weeks began moving after officials agreed new border rules.",
     ["pakistan", "afghanistan", "diplomacy"]),
    (27, "tripoli-lebanon-floods", "Floods in northern Lebanon wash out a coastal road",
     "Engineers blame clogged drains and construction on old riverbeds.",
     ["lebanon"]),
    (30, "sanaa-salaries", "Public servants in Sanaa paid for the first time in months",
     "The payment covers half a salary, funded by a new customs arrangement.",
     ["yemen", "politics"]),
]


def seed_demo_stories(now: datetime) -> int:
    """Add the demo stories that are missing; returns how many were added."""
    topic_ids = dict(db.session.execute(select(Topic.slug, Topic.id)).all())
    added = 0
    for days_ago, slug, title, summary, topics in STORIES:
        published = (now - timedelta(days=days_ago)).replace(hour=6, minute=0, second=0,
                                                             microsecond=0)
        story_id = insert_or_ignore(Story, {
            "url": f"{BASE_URL}/{slug}", "title": title, "summary": summary,
            "published_at": published, "created_at": now,
        })
        if story_id is None:
            continue
        added += 1
        for topic in topics:
            db.session.add(StoryTopic(story_id=story_id, topic_id=topic_ids[topic]))
    db.session.flush()
    return added
