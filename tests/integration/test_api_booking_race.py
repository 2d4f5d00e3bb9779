"""Fifty API clients race for overlapping slots of one machine through a real threaded HTTP server: exactly
one booking wins, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from factory.models import Booking
from tests.integration.booking_api import booking_body, make_shop, monday


@pytest.fixture
def shop(session):
    return make_shop(session)

@pytest.fixture
def live_server(app):
    """The app behind a real threaded HTTP server on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="api-race-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _post(url: str, token: str, body: dict, start: threading.Barrier) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    start.wait(timeout=30)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_fifty_concurrent_requests_for_overlapping_slots_book_exactly_one(live_server, shop, session):
    clients = 50
    bodies = [booking_body(monday(10) + timedelta(minutes=n)) for n in range(clients)]  # all overlap each other
    api_get_url = urllib.request.Request(f"{live_server}/api/v1/bookings",
                                         headers={"Authorization": f"Bearer {shop.steward}"})
    urllib.request.urlopen(api_get_url, timeout=30).close()  # the server is up, the token's first use recorded
    start = threading.Barrier(clients)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = list(pool.map(lambda body: _post(f"{live_server}/api/v1/bookings", shop.steward, body, start),
                                bodies))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (clients - 1), statuses
    refusals = [body["error"] for status, body in answers if status == 409]
    # the write turn serialised the checks: each loser saw the winner (not just the database's backstop)
    assert all(error["code"] == "booking_conflict" and error["conflicts"] for error in refusals)
    active = select(func.count()).select_from(Booking).where(Booking.status == "active")
    assert session.scalar(active) == 1
