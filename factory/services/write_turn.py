"""Taking a write turn: the check-then-write of bookings and stock runs one at a time per machine or material.

On PostgreSQL the caller's rows (a machine, a material) are locked with `SELECT ... FOR UPDATE` until the
session commits or rolls back, so writers of other machines go on; on SQLite the transaction starts with
`BEGIN IMMEDIATE`, the database's single write lock (a transaction that has written already holds it).
Either way the checks after it see every write committed before.
"""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import Session


def take_write_turn(session: Session, lock_rows: Select) -> None:
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    session.execute(lock_rows.with_for_update())
