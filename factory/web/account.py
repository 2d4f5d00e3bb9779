"""Your own account: change your password, issue and revoke your API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from factory.app import db
from factory.domain.errors import DomainError
from factory.services.tokens import create_token, list_tokens, revoke_token
from factory.services.users import change_password
from factory.web.forms import PasswordForm, TokenForm, show_error

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(status: int = 200, *, new_token: str | None = None, password_form=None, token_form=None):
    return render_template("account/index.html", tokens=list_tokens(db(), current_user.login),
                           password_form=password_form or PasswordForm(formdata=None, prefix="pw"),
                           token_form=token_form or TokenForm(formdata=None, prefix="token"),
                           revoke_form=FlaskForm(formdata=None), new_token=new_token), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/password")
@login_required
def password():
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            change_password(db(), current_user.login, form.current_password.data, form.new_password.data)
            flash("Your password is changed.", "success")
            return redirect(url_for("account.index"))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    return _page(422, password_form=form)


@bp.post("/tokens")
@login_required
def new_token():
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            _, plain = create_token(db(), current_user.login, form.name.data)
            # Rendered once, never stored: the page says so and offers no way to see it again.
            return _page(201, new_token=plain)
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    return _page(422, token_form=form)


@bp.post("/tokens/<int:token_id>/revoke")  # CSRFProtect has checked the form's token before this runs
@login_required
def revoke(token_id: int):
    token = revoke_token(db(), token_id, owner=current_user.login)
    flash(f"Token “{token.name}” is revoked; requests with it now get 401.", "success")
    return redirect(url_for("account.index"))
