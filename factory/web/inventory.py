"""Inventory pages: per site, each material's on hand, reserved and available stock and its reorder point, and
a kanban board of replenishment cards (open -> ordered -> received); stewards mark cards ordered or received
and book stock moves by hand. A material's page lists its moves, newest first, with on hand over time.
Everyone signed in may look; stewards and admins change."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import select

from factory.app import db
from factory.domain.errors import InvalidInput
from factory.domain.stock import ZERO, Reason
from factory.domain.units import Unit, format_number, format_quantity
from factory.domain.vocabulary import Role
from factory.models import Material, Replenishment, Site, StockMove, utcnow
from factory.services.replenishment import mark_ordered, mark_received
from factory.services.sites import list_sites
from factory.services.stock import (
    StockLine,
    balance,
    balances,
    get_material,
    list_materials,
    move_history,
    record_move,
    transfer,
)
from factory.web.access import actor, registry_keepers
from factory.web.charts import FONT
from factory.web.forms import attempt
from factory.web.order_forms import ActionForm, MarkOrderedForm, StockMoveForm

bp = Blueprint("inventory", __name__, url_prefix="/inventory")

RECEIVED_SHOWN = 4  # received cards kept on each site's board
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 520, 200, 64, 14, 14, 30  # the stock chart and its plot's margins
NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@bp.app_template_filter("move_reason")
def move_reason(code: str) -> str:
    return Reason(code).label


@bp.get("")
@login_required
def index():
    return _index_page()


def _index_page(*, move_form: StockMoveForm | None = None, ordered_forms: dict | None = None,
                board_errors: list[str] | None = None):
    sites, lines = list_sites(db()), balances(db())
    received = recently_received()
    move_form = move_form or StockMoveForm(formdata=None)
    move_form.offer(list_materials(db()), sites)
    ordered_forms = ordered_forms or {}
    for line in lines:
        if line.card is not None and line.card.status == "open" and line.card.id not in ordered_forms:
            ordered_forms[line.card.id] = MarkOrderedForm(formdata=None, prefix=f"card-{line.card.id}")
    stock = [{"site": site, "lines": [line for line in lines if line.site.id == site.id],
              "received": [card for card in received if card.site_id == site.id][:RECEIVED_SHOWN]}
             for site in sites]
    return render_template("inventory/index.html", stock=stock, keeper=_keeper(), move_form=move_form,
                           ordered_forms=ordered_forms, board_errors=board_errors or [])


@bp.post("/cards/<int:card_id>/ordered")
@registry_keepers
def ordered(card_id: int):
    line = _line_of_card(card_id)
    if line is None or line.card.status != "open":
        flash(f"Card {card_id} is not open any more; the board shows where it is now.", "error")
        return redirect(url_for("inventory.index"))
    form = MarkOrderedForm(prefix=f"card-{card_id}")
    card = attempt(form, lambda: mark_ordered(db(), card_id, expected_at=form.expected_utc(line.site.time_zone),
                                              by=actor(), note=form.note.data or ""))
    if card is not None:
        flash(f"{card.material.name} at {card.site.name} is on order.", "success")
        return redirect(url_for("inventory.index", _anchor=f"site-{card.site.slug}"))
    return _index_page(ordered_forms={card_id: form}), 422


@bp.post("/cards/<int:card_id>/received")
@registry_keepers
def received(card_id: int):
    form = ActionForm()
    card = attempt(form, lambda: mark_received(db(), card_id, by=actor()))
    if card is not None:
        unit = Unit(card.material.unit)
        flash(f"Received {format_quantity(card.quantity, unit)} of {card.material.name} at {card.site.name}.",
              "success")
        return redirect(url_for("inventory.index", _anchor=f"site-{card.site.slug}"))
    return _index_page(board_errors=form.form_errors), 422


@bp.post("/moves")
@registry_keepers
def move():
    form = StockMoveForm()
    form.offer(list_materials(db()), list_sites(db()))
    stored = attempt(form, lambda: _book(form))
    if stored is not None:
        unit = Unit(stored.material.unit)
        flash(f"{Reason(stored.reason).label}: {format_quantity(stored.quantity, unit)} of {stored.material.name} "
              f"at {stored.site.name}.", "success")
        return redirect(url_for("inventory.index", _anchor=f"site-{stored.site.slug}"))
    return _index_page(move_form=form), 422


def _book(form: StockMoveForm) -> StockMove:
    if not form.transfers:
        return record_move(db(), form.material.data, form.site.data, form.move(), by=actor())
    if not form.to_site.data:
        raise InvalidInput("pick the site it goes to", field="to_site")
    out_move, _in_move = transfer(db(), form.material.data, form.site.data, form.to_site.data, form.amount(),
                                  by=actor(), note=form.note.data or "")
    return out_move


@bp.get("/<slug>")
@login_required
def material(slug: str):
    found = get_material(db(), slug)
    moves = move_history(db(), slug)
    now = utcnow()
    sites = {move.site_id: move.site for move in moves}
    charts = [(site, stock_chart(found, site, [m for m in moves if m.site_id == site.id], now))
              for site in sorted(sites.values(), key=lambda s: s.name)]
    return render_template("inventory/material.html", material=found, moves=moves, charts=charts)


def stock_chart(material: Material, site: Site, moves: list[StockMove], now: datetime) -> Markup:
    """An `<svg>` of on hand at one site as steps, from the oldest move shown (`moves` newest first) to now.

    Not charts.line_chart: stock holds its level between moves (a step, not a slope), and the history spans
    weeks, which wants ticks at midnights rather than at round hours.
    """
    start, levels = _levels(balance(db(), material.id, site.id).on_hand, moves)
    zone, unit = ZoneInfo(site.time_zone), Unit(material.unit)
    since = min([now - timedelta(days=1), *(at for at, _ in levels)])
    values = [start, *(level for _, level in levels)]
    low, top = min(ZERO, *values), _nice_top(max(values))
    width = WIDTH - LEFT - RIGHT

    def x(moment: datetime) -> float:
        return LEFT + (moment - since) / (now - since) * width

    def y(value: Decimal) -> float:
        return HEIGHT - BOTTOM - float((value - low) / (top - low)) * (HEIGHT - TOP - BOTTOM)

    path = f"M{x(since):.1f},{y(start):.1f}" + "".join(f" H{x(at):.1f} V{y(level):.1f}" for at, level in levels)
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{width}" height="{HEIGHT - TOP - BOTTOM}" '
             'fill="#fff" stroke="#8a959c"/>']
    for k in range(5):
        value = low + (top - low) * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="#e3e7ea"/><text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f'{escape(format_number(value.quantize(Decimal("0.001"))))}</text>')
    for tick in _midnights(since, now, zone):
        parts.append(f'<text x="{x(tick):.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                     f'{tick.astimezone(zone):%d %b}</text>')
    parts.append(f'<path class="series" d="{path} H{x(now):.1f}" fill="none" stroke="#0b5fa5" stroke-width="2"/>')
    label = escape(f"{material.name} on hand at {site.name} ({unit.symbol}), {since.astimezone(zone):%Y-%m-%d} "
                   f"to now: now {format_quantity(values[-1], unit)}, lowest {format_quantity(min(values), unit)}, "
                   f"highest {format_quantity(max(values), unit)}")
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart stock-chart" viewBox="0 0 {WIDTH} '
                  f'{HEIGHT}" role="img" aria-label="{label}" {FONT}><title>{label}</title>{"".join(parts)}</svg>')


def _levels(on_hand: Decimal, moves: list[StockMove]) -> tuple[Decimal, list[tuple[datetime, Decimal]]]:
    """On hand before the oldest of `moves` (newest first), and after each moment with moves, oldest first."""
    levels: list[tuple[datetime, Decimal]] = []
    for move in moves:
        if not levels or levels[-1][0] != move.at:
            levels.append((move.at, on_hand))
        on_hand -= move.on_hand_delta
    return on_hand, levels[::-1]


def _nice_top(high: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `high` (1 for nothing)."""
    if high <= 0:
        return Decimal(1)
    power = Decimal(10) ** math.floor(math.log10(high))
    return next(k * power for k in NICE if k * power >= high)


def _midnights(since: datetime, until: datetime, zone: ZoneInfo, most: int = 6) -> list[datetime]:
    """Local midnights between the two, every 1, 2, 7, 14 or 28 days so that at most `most` are shown."""
    days = (until - since).days + 1
    step = next((n for n in (1, 2, 7, 14, 28) if days / n <= most), 91)
    day = since.astimezone(zone).date() + timedelta(days=1)
    ticks = []
    while (moment := datetime.combine(day, time(0), zone)) <= until:
        ticks.append(moment)
        day += timedelta(days=step)
    return ticks


def recently_received(limit: int = 40) -> list[Replenishment]:
    """The latest received kanban cards, newest first (the stock service lists only open and ordered ones)."""
    return list(db().scalars(select(Replenishment).where(Replenishment.status == "received")
                             .order_by(Replenishment.received_at.desc(), Replenishment.id.desc()).limit(limit)))


def _line_of_card(card_id: int) -> StockLine | None:
    return next((line for line in balances(db()) if line.card is not None and line.card.id == card_id), None)


def _keeper() -> bool:
    return Role(current_user.role).manages_registry
