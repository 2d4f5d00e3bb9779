"""Co-ops and the commune's members (one share each)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.models import Coop, Member
from factory.services.sites import the_commune


@dataclass(frozen=True)
class CoopDraft:
    slug: str
    name: str
    description: str = ""


def list_coops(session: Session) -> list[Coop]:
    return list(session.scalars(select(Coop).order_by(Coop.name)))


def get_coop(session: Session, slug: str) -> Coop:
    coop = session.scalars(select(Coop).where(Coop.slug == slug)).one_or_none()
    if coop is None:
        raise NotFound(f"no co-op {slug!r}", field="coop")
    return coop


def create_coop(session: Session, draft: CoopDraft) -> Coop:
    slug = check_slug(draft.slug, field="slug")
    if session.scalars(select(Coop.id).where(Coop.slug == slug)).first() is not None:
        raise Conflict(f"a co-op {slug!r} already exists", field="slug")
    coop = Coop(commune_id=the_commune(session).id, slug=slug,
                name=check_text(draft.name, field="name"), description=draft.description.strip())
    session.add(coop)
    session.commit()
    return coop


def update_coop(session: Session, slug: str, draft: CoopDraft) -> Coop:
    coop = get_coop(session, slug)
    coop.name = check_text(draft.name, field="name")
    coop.description = draft.description.strip()
    session.commit()
    return coop


def add_member(session: Session, name: str, email: str, coop_slug: str | None = None) -> Member:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput("not an e-mail address", field="email")
    commune = the_commune(session)
    taken = select(Member.id).where(Member.commune_id == commune.id, func.lower(Member.email) == email)
    if session.scalars(taken).first() is not None:
        raise Conflict(f"{email} is already a member", field="email")
    coop = get_coop(session, coop_slug) if coop_slug else None
    member = Member(commune_id=commune.id, name=check_text(name, field="name"), email=email, coop=coop)
    session.add(member)
    session.commit()
    return member


def member_count(session: Session) -> int:
    return session.scalar(select(func.count(Member.id)).where(Member.left_at.is_(None))) or 0
