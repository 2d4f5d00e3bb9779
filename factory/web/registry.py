"""Admin and steward pages to add and edit sites, co-ops, machines and (admins only) users."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from wtforms import SelectChoice

from factory.app import db
from factory.domain.errors import DomainError
from factory.services import coops, machines, sites, users
from factory.web.access import actor, admins, registry_keepers
from factory.web.forms import CoopForm, MachineForm, MemberForm, SiteForm, UserForm, show_error

bp = Blueprint("registry", __name__, url_prefix="/manage")


@bp.route("/")
@registry_keepers
def index():
    session = db()
    return render_template("admin/index.html", sites=sites.list_sites(session), coops=coops.list_coops(session),
                           users=users.list_users(session), machines=machines.list_machines(session))


def _save(form, template: str, save, done: str, **context):
    """The shared POST path of every registry form: valid shape, then the service, then redirect."""
    if form.validate_on_submit():
        try:
            saved = save(form)
            flash(done.format(saved=saved), "success")
            return redirect(url_for("registry.index"))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    status = 422 if form.is_submitted() else 200
    return render_template(template, form=form, **context), status


@bp.route("/sites/new", methods=["GET", "POST"])
@registry_keepers
def new_site():
    form = SiteForm()
    if not form.is_submitted():
        for name in ("hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri"):
            getattr(form, name).data = "08:00-18:00"
    return _save(form, "admin/site_form.html", lambda f: sites.create_site(db(), f.draft()),
                 "Site {saved.name} added.", creating=True)


@bp.route("/sites/<slug>", methods=["GET", "POST"])
@registry_keepers
def edit_site(slug: str):
    site = sites.get_site(db(), slug)
    form = SiteForm()
    if not form.is_submitted():
        form.fill_from(site)
    form.slug.data = site.slug
    return _save(form, "admin/site_form.html", lambda f: sites.update_site(db(), slug, f.draft()),
                 "Site {saved.name} saved.", creating=False, site=site)


@bp.route("/coops/new", methods=["GET", "POST"])
@registry_keepers
def new_coop():
    return _save(CoopForm(), "admin/coop_form.html", lambda f: coops.create_coop(db(), f.draft()),
                 "Co-op {saved.name} added.", creating=True)


@bp.route("/coops/<slug>", methods=["GET", "POST"])
@registry_keepers
def edit_coop(slug: str):
    coop = coops.get_coop(db(), slug)
    form = CoopForm(obj=coop)
    form.slug.data = coop.slug
    member_form = MemberForm(formdata=None, prefix="member")
    return _save(form, "admin/coop_form.html", lambda f: coops.update_coop(db(), slug, f.draft()),
                 "Co-op {saved.name} saved.", creating=False, coop=coop, member_form=member_form)


@bp.route("/coops/<slug>/members", methods=["POST"])
@registry_keepers
def add_coop_member(slug: str):
    coop = coops.get_coop(db(), slug)
    member_form = MemberForm(prefix="member")
    if member_form.validate_on_submit():
        try:
            member = coops.add_member(db(), member_form.name.data, member_form.email.data, slug)
            flash(f"{member.name} joined {coop.name}.", "success")
            return redirect(url_for("registry.edit_coop", slug=slug))
        except DomainError as exc:
            db().rollback()
            show_error(member_form, exc)
    form = CoopForm(obj=coop, formdata=None)
    return render_template("admin/coop_form.html", form=form, creating=False, coop=coop,
                           member_form=member_form), 422


def _machine_form(**kwargs) -> MachineForm:
    form = MachineForm(**kwargs)
    form.site.choices = [SelectChoice(s.slug, s.name) for s in sites.list_sites(db())]
    return form


@bp.route("/machines/new", methods=["GET", "POST"])
@registry_keepers
def new_machine():
    return _save(_machine_form(), "admin/machine_form.html",
                 lambda f: machines.create_machine(db(), f.draft(), by=actor()),
                 "Machine {saved.name} added.", creating=True)


@bp.route("/machines/<machine_id>", methods=["GET", "POST"])
@registry_keepers
def edit_machine(machine_id: str):
    machine = machines.get_machine(db(), machine_id)
    form = _machine_form()
    if not form.is_submitted():
        form.fill_from(machine)
    form.id.data = machine.id
    return _save(form, "admin/machine_form.html", lambda f: machines.update_machine(db(), machine_id, f.draft()),
                 "Machine {saved.name} saved.", creating=False, machine=machine)


def _user_form(**kwargs) -> UserForm:
    form = UserForm(**kwargs)
    form.coop.choices = [SelectChoice("", "—")] + [SelectChoice(c.slug, c.name) for c in coops.list_coops(db())]
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@admins
def new_user():
    return _save(_user_form(), "admin/user_form.html", lambda f: users.create_user(db(), f.draft()),
                 "User {saved.login} added.", creating=True)


@bp.route("/users/<login>", methods=["GET", "POST"])
@admins
def edit_user(login: str):
    user = users.get_user(db(), login)
    form = _user_form()
    if not form.is_submitted():
        form.display_name.data, form.role.data, form.active.data = user.display_name, user.role, user.active
        form.coop.data = user.coop.slug if user.coop else ""
    form.login.data = user.login
    return _save(form, "admin/user_form.html", lambda f: users.update_user(db(), login, f.draft()),
                 "User {saved.login} saved.", creating=False, user=user)
