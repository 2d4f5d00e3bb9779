"""The /account page: a user changes their own password and issues and revokes their own API tokens.

Real app, real database (SQLite and PostgreSQL), CSRF protection on; forms are posted with the field
names the page renders (`pw-…`, `token-…`), as a browser would.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from factory.models import ApiToken
from factory.services.tokens import create_token
from tests.integration.conftest import (
    PASSWORD,
    field_errors,
    make_user,
    sqlite_only,
    submit,
)

ACCOUNT = "/account/"
NEW_PASSWORD = "a-brand-new-passphrase"
_NEW_TOKEN = re.compile(r'value="([^"]+)" id="new-token"')


def text(response) -> str:
    return response.get_data(as_text=True)


def post_account_form(client, url: str, data: dict):
    """POST `data` to `url` with the CSRF token of the account page, as its forms send it."""
    return submit(client, url, data, form_page=ACCOUNT)


def change_password(client, current: str, new: str):
    return post_account_form(client, "/account/password",
                             {"pw-current_password": current, "pw-new_password": new})


def issue_token(client, name: str):
    return post_account_form(client, "/account/tokens", {"token-name": name})


def shown_token(response) -> str:
    match = _NEW_TOKEN.search(text(response))
    assert match, "the page does not show the new token in #new-token"
    return match.group(1)


def revoke_on_page(client, token_id: int):
    return post_account_form(client, f"/account/tokens/{token_id}/revoke", {})


def machines_api(client, token: str):
    return client.get("/api/v1/machines", headers={"Authorization": f"Bearer {token}"})


def can_log_in(app, login: str, password: str) -> bool:
    """Whether a fresh browser (its own cookie jar) gets in with this login and password."""
    response = submit(app.test_client(), "/login", {"login": login, "password": password})
    assert response.status_code in (302, 422), response.status_code
    return response.status_code == 302


def token_row(session, token_id: int) -> ApiToken:
    session.expire_all()
    return session.scalars(select(ApiToken).where(ApiToken.id == token_id)).one()


# --- the page ------------------------------------------------------------------------------------------

def test_account_page_shows_the_users_login_and_role(member):
    response = member.get(ACCOUNT)

    assert response.status_code == 200
    page = text(response)
    assert "<code>mia</code>" in page
    assert "member of Spokes Co-op" in page
    assert "No tokens yet." in page
    assert 'href="/account/"' in page, "the name in the header links to the account page"


@sqlite_only
def test_anonymous_visitor_of_the_account_page_is_sent_to_log_in(client):
    response = client.get(ACCOUNT)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# --- changing the password ------------------------------------------------------------------------------

def test_password_change_makes_the_old_password_fail_and_the_new_one_work(app, member):
    response = change_password(member, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == ACCOUNT
    assert "Your password is changed." in text(member.get(ACCOUNT))
    assert not can_log_in(app, "mia", PASSWORD)
    assert can_log_in(app, "mia", NEW_PASSWORD)


def test_password_change_with_a_wrong_current_password_is_refused_on_that_field(app, member):
    response = change_password(member, "not-my-password", NEW_PASSWORD)

    assert response.status_code == 422
    assert field_errors(text(response)) == {"pw-current_password": ["this is not your current password"]}
    assert can_log_in(app, "mia", PASSWORD)
    assert not can_log_in(app, "mia", NEW_PASSWORD)


def test_password_change_to_a_too_short_password_is_refused_on_the_new_password(app, member):
    response = change_password(member, PASSWORD, "short")

    assert response.status_code == 422
    assert field_errors(text(response)) == {"pw-new_password": ["at least 8 characters"]}
    assert can_log_in(app, "mia", PASSWORD)


# --- API tokens ------------------------------------------------------------------------------------------

def test_token_issued_on_the_page_is_shown_once_and_listed_without_its_secret(member):
    response = issue_token(member, "leipzig dashboard")

    assert response.status_code == 201
    token = shown_token(response)
    assert token.startswith("mf_")
    listing = text(member.get(ACCOUNT))
    assert "leipzig dashboard" in listing
    assert f"<code>{token[:10]}…</code>" in listing
    assert token not in listing, "the token is shown only once"
    assert 'id="new-token"' not in listing


def test_token_issued_on_the_page_authenticates_the_api_until_revoked_there(session, member):
    token = shown_token(issue_token(member, "my script"))
    assert machines_api(member, token).status_code == 200
    token_id = session.scalars(select(ApiToken.id).where(ApiToken.name == "my script")).one()

    response = revoke_on_page(member, token_id)

    assert response.status_code == 302
    assert response.headers["Location"] == ACCOUNT
    assert "is revoked" in text(member.get(ACCOUNT))
    refused = machines_api(member, token)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthorized"
    assert token_row(session, token_id).revoked_at is not None


def test_token_without_a_name_is_refused_on_the_name_field(session, member):
    response = issue_token(member, "   ")

    assert response.status_code == 422
    assert set(field_errors(text(response))) == {"token-name"}
    assert 'id="new-token"' not in text(response)
    assert session.scalars(select(ApiToken)).first() is None


def test_revoking_another_users_token_is_not_found_and_leaves_it_active(session, member):
    make_user(session, "steward", login="sam")
    theirs, plain = create_token(session, "sam", "sam-nightly-export")

    response = revoke_on_page(member, theirs.id)

    assert response.status_code == 404
    assert token_row(session, theirs.id).revoked_at is None
    assert machines_api(member, plain).status_code == 200
    assert "sam-nightly-export" not in text(member.get(ACCOUNT)), "the page lists only the user's own tokens"


@sqlite_only
def test_revoking_without_the_csrf_token_is_refused_with_400(session, member):
    token = shown_token(issue_token(member, "my script"))
    token_id = session.scalars(select(ApiToken.id)).one()

    response = member.post(f"/account/tokens/{token_id}/revoke", data={})

    assert response.status_code == 400
    assert token_row(session, token_id).revoked_at is None
    assert machines_api(member, token).status_code == 200
