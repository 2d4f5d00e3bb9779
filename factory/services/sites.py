"""Sites and their opening hours; the commune itself."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.domain.opening_hours import Week, week_of
from factory.models import Commune, OpeningHours, Site


@dataclass(frozen=True)
class SiteDraft:
    slug: str
    name: str
    time_zone: str
    hours: Week
    address: str = ""


def the_commune(session: Session) -> Commune:
    commune = session.scalars(select(Commune).order_by(Commune.id)).first()
    if commune is None:
        raise NotFound("no commune yet: run `factory seed-demo` or create one")
    return commune


def ensure_commune(session: Session, name: str, currency: str = "EUR") -> Commune:
    commune = session.scalars(select(Commune).order_by(Commune.id)).first()
    if commune is None:
        commune = Commune(name=check_text(name, field="name"), currency=currency)
        session.add(commune)
        session.commit()
    return commune


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.name)))


def get_site(session: Session, slug: str) -> Site:
    site = session.scalars(select(Site).where(Site.slug == slug)).one_or_none()
    if site is None:
        raise NotFound(f"no site {slug!r}", field="site")
    return site


def create_site(session: Session, draft: SiteDraft) -> Site:
    slug = check_slug(draft.slug, field="slug")
    if session.scalars(select(Site.id).where(Site.slug == slug)).first() is not None:
        raise Conflict(f"a site {slug!r} already exists", field="slug")
    site = Site(commune_id=the_commune(session).id, slug=slug)
    _apply(site, draft)
    session.add(site)
    session.commit()
    return site


def update_site(session: Session, slug: str, draft: SiteDraft) -> Site:
    site = get_site(session, slug)
    _apply(site, draft)
    session.commit()
    return site


def site_week(site: Site) -> Week:
    return week_of(site.opening_hours)


def _apply(site: Site, draft: SiteDraft) -> None:
    site.name = check_text(draft.name, field="name")
    site.time_zone = check_time_zone(draft.time_zone)
    site.address = (draft.address or "").strip()
    site.opening_hours = [
        OpeningHours(weekday=day, opens_min=start, closes_min=end)
        for day, intervals in sorted(draft.hours.items()) for start, end in intervals
    ]


def check_time_zone(name: str) -> str:
    name = (name or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{name!r} is not an IANA time zone such as Europe/Berlin", field="time_zone") from None
    return name
