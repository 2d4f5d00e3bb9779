"""Machines' broker logins: issue or rotate a password (shown once), list the accounts for the broker files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from factory.broker.config import MachineAccount
from factory.broker.passwords import hash_password, new_password
from factory.models import Machine, MachineCredential, utcnow
from factory.services.machines import get_machine


def issue_machine_password(session: Session, machine_id: str) -> str:
    """A new broker password for the machine, replacing any previous one; only its hash is kept."""
    machine = get_machine(session, machine_id)
    password = new_password()
    credential = session.get(MachineCredential, machine.id) or MachineCredential(machine_id=machine.id)
    credential.password_hash, credential.rotated_at = hash_password(password), utcnow()
    session.add(credential)
    session.commit()
    return password


def machine_accounts(session: Session) -> list[MachineAccount]:
    """Every machine that has a broker password, with its site, in a stable order."""
    rows = session.execute(select(Machine, MachineCredential.password_hash)
                           .join(MachineCredential, MachineCredential.machine_id == Machine.id)
                           .options(joinedload(Machine.site)).order_by(Machine.id)).all()
    return [MachineAccount(machine.site.slug, machine.id, password_hash) for machine, password_hash in rows]
