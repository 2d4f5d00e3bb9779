"""The design pages through Flask's test client, on a real database, with CSRF protection on: a steward
publishes a design through the form, its routing and bill of materials typed one line each, and edits it from
the form prefilled with that text; a member may not; a bad line shows on its text area and stores nothing."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from sqlalchemy import select

from factory.domain.capabilities import Capabilities
from factory.domain.stock import Move
from factory.models import Design, RoutingStep
from factory.services.designs import DesignDraft, StepDraft, create_design
from factory.services.stock import MaterialDraft, create_material, record_move
from tests.integration.conftest import count, field_errors, make_machine, submit
from tests.integration.test_booking_pages import text

MUG_STEPS = "bisque firing | kiln | 480 | setup 30 | material stoneware | min 1000 °C | batch 24 | family bisque\n" \
            "glaze firing | kiln | 600 | setup 30 | material stoneware | min 1240 °C | batch 24"
MUG_BOM = "stoneware | 350 g | step 1\nglaze | 40 ml | step 2"


@pytest.fixture
def clay(session):
    """A kiln (1,290 °C) at north; stoneware clay (kg) and glaze (ml)."""
    make_machine(session, id="kiln-1", name="Kiln 1", kind="kiln",
                 capabilities=Capabilities(600, 600, 680, ("stoneware",), 1290))
    for slug, name, unit in (("stoneware", "Stoneware clay", "kg"), ("glaze", "Clear glaze", "ml")):
        create_material(session, MaterialDraft(slug, name, unit))
    record_move(session, "stoneware", "north", Move("received", Decimal("30")), by="steward:sam")


def design_form(**overrides) -> dict:
    return {"slug": "mug", "name": "Stoneware mug", "licence": "CC-BY-SA-4.0", "source_url": "https://example.org/mug",
            "version": "1.2", "summary": "A café mug.", "max_batch": "8", "active": "y", "steps": MUG_STEPS,
            "bom": MUG_BOM, **overrides}


def test_steward_publishes_a_design_through_the_form_and_the_catalogue_shows_it(session, steward, clay):
    assert 'href="/designs/new"' in text(steward.get("/designs"))

    response = submit(steward, "/designs/new", design_form())

    assert response.status_code == 302 and response.headers["Location"] == "/designs/mug"
    design = session.scalars(select(Design)).one()
    assert (design.name, design.licence, design.version, design.max_batch, design.active) == (
        "Stoneware mug", "CC-BY-SA-4.0", "1.2", 8, True)
    assert [(s.position, s.name, s.batch_capacity, s.min_temperature_c) for s in design.steps] == [
        (1, "bisque firing", 24, 1000), (2, "glaze firing", 24, 1240)]
    catalogue = html.unescape(text(steward.get("/designs")))
    assert 'data-design="mug"' in catalogue and "350 g of Stoneware clay, at step 1 (bisque firing)" in catalogue
    assert "40 ml of Clear glaze, at step 2 (glaze firing)" in catalogue


def test_the_edit_form_shows_the_routing_and_bom_as_typed_and_saves_a_new_name(session, steward, clay):
    submit(steward, "/designs/new", design_form())
    assert 'href="/designs/mug/edit"' in text(steward.get("/designs/mug"))

    page = html.unescape(text(steward.get("/designs/mug/edit")))
    assert MUG_STEPS in page and MUG_BOM in page
    response = submit(steward, "/designs/mug/edit", design_form(slug="ignored", name="Tall mug"))

    assert response.status_code == 302 and response.headers["Location"] == "/designs/mug"
    session.expire_all()
    design = session.scalars(select(Design)).one()
    assert (design.slug, design.name, len(design.steps)) == ("mug", "Tall mug", 2)


def test_member_may_not_open_the_design_forms_nor_see_their_links(session, member):
    create_design(session, DesignDraft("hook", "Hook", "CC0-1.0", "https://example.org/hook", "1",
                                       steps=(StepDraft("print", "fdm_printer", "20"),)))

    assert member.get("/designs/new").status_code == 403
    assert member.get("/designs/hook/edit").status_code == 403
    assert "/designs/new" not in text(member.get("/designs"))
    assert "/designs/hook/edit" not in text(member.get("/designs/hook"))


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"steps": "bisque firing | kiln | 480\nglaze firing | oven | 600"}, "steps", "line 2: unknown machine kind"),
    ({"steps": "bisque firing | kiln | 480 | hot"}, "steps", "line 1: cannot read 'hot'"),
    ({"steps": "bisque firing | kiln | 480.125"}, "steps", "step 1: use at most 2 decimals"),
    ({"bom": "stoneware | a lot"}, "bom", "line 1: give the quantity"),
    ({"bom": "porcelain | 350 g | step 1"}, "bom", "no material 'porcelain'"),
    ({"licence": "CC BY SA"}, "licence", "SPDX"),
], ids=["unknown-kind", "unreadable-option", "minutes-decimals", "bad-quantity", "unknown-material", "licence"])
def test_a_bad_line_or_fact_shows_on_its_field_and_stores_nothing(session, steward, clay, change, field, words):
    response = submit(steward, "/designs/new", design_form(**change))

    assert response.status_code == 422
    errors = field_errors(text(response))
    assert field in errors and words in " ".join(errors[field]), errors
    assert count(session, Design) == 0 and count(session, RoutingStep) == 0
