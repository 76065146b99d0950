"""A watchlist's events as an Atom feed (RFC 4287), in French or English.

Ids are URNs that never change: the feed's is ``urn:uuid:<watchlist id>``, an entry's
``urn:uuid:<event id>`` (a uuid5 of the watchlist, ranking, kind and company, see
``watch_events.event_id``), so a feed reader never sees an entry twice. ``updated`` is
when the event was derived (stored), the feed's is its newest entry's (or the
watchlist's last change). Links are absolute, built from the request's base URL: the
feed itself (``rel="self"``), the page (``rel="alternate"``) and, per entry, the
company's page. No link carries a key: a feed reader sends it as the HTTP Basic password.

Entries say only what a shortlist row shows: the company's name, region, sector and rank
(and for a round, its kind, date and amount); never a founder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import quote

from talentmap.serving.translations import DEFAULT_LANGUAGE, LANGUAGES, load_catalogue
from talentmap.serving.watchlists import StoredEvent, Watchlist

ATOM = "http://www.w3.org/2005/Atom"


@cache
def strings(lang: str) -> dict[str, str]:
    """The page's catalogue in ``lang`` (this module's keys are in ``watchlists.json``)."""
    return load_catalogue(lang)


def _t(lang: str, key: str, **params: Any) -> str:
    text = strings(lang).get(key) or strings("en").get(key) or key
    return text.format_map({k: ("" if v is None else v) for k, v in params.items()})


def _amount(lang: str, value: Any) -> str:
    if value is None:
        return _t(lang, "watchlists.feed.amount_unknown")
    whole = f"{round(float(value)):,}"
    return (whole.replace(",", "\u202f") + "\u00a0€") if lang == "fr" else f"€{whole}"


def entry_text(event: StoredEvent, lang: str) -> tuple[str, str]:
    """(title, summary) of one event."""
    d = event.details
    name = d.get("name") or event.org_id
    where = ", ".join(str(x) for x in (d.get("region"), d.get("sector")) if x)
    params = {
        "name": name,
        "rank": d.get("rank"),
        "previous": d.get("previous_rank"),
        "where": where,
    }
    scope = d.get("scope", "shortlist")
    if event.kind == "round":
        kind = d.get("round_type") or ""
        label = strings(lang).get(f"watchlists.round_type.{kind}", kind)
        params |= {
            "round": label,
            "date": d.get("announced_on"),
            "amount": _amount(lang, d.get("amount_eur")),
        }
    title = _t(lang, f"watchlists.feed.{event.kind}.{scope}.title", **params)
    summary = _t(lang, f"watchlists.feed.{event.kind}.{scope}.summary", **params)
    return title, summary


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def render_feed(
    watchlist: Watchlist,
    events: Iterable[StoredEvent],
    base_url: str,
    lang: str = "fr",
    hidden: frozenset[str] = frozenset(),
) -> bytes:
    """The Atom document; events of companies in ``hidden`` (opted out) are left out."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    base = base_url.rstrip("/")
    shown = [e for e in events if e.org_id not in hidden]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": lang})
    _sub(feed, "id", f"urn:uuid:{watchlist.id}")
    _sub(feed, "title", _t(lang, "watchlists.feed.title", name=watchlist.name))
    _sub(feed, "subtitle", _t(lang, "watchlists.feed.subtitle"))
    updated = max([e.at for e in shown] + [watchlist.updated_at])
    _sub(feed, "updated", updated)
    author = _sub(feed, "author")
    _sub(author, "name", "TalentMap")
    _sub(feed, "generator", "TalentMap")
    self_href = f"{base}/watchlists/{watchlist.id}/feed.atom?lang={lang}"
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    _sub(
        feed,
        "link",
        rel="alternate",
        type="text/html",
        href=f"{base}/?lang={lang}#watchlist-{watchlist.id}",
    )
    for event in shown:
        title, summary = entry_text(event, lang)
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:uuid:{event.id}")
        _sub(entry, "title", title)
        _sub(entry, "updated", event.at)
        _sub(entry, "published", event.at)
        _sub(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=f"{base}/company/{quote(event.org_id, safe='')}?lang={lang}",
        )
        _sub(entry, "category", term=event.kind)
        _sub(entry, "summary", summary)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
