"""The change feed of each space: one position per file (its latest change), positions in commit order.

Positions come from a counter row per space (`feed_heads`), incremented by the transaction that makes
the change, as its last statement. Why a counter row and not a sequence: a sequence hands out numbers
at once, but transactions commit in any order, so a reader could see position 8 committed while 7 is
still in flight, move its cursor past 7 and never see it. The counter row is locked from its increment
to the commit of its transaction, so the next writer of the space gets the next number only once the
previous one committed: numbers are taken in commit order, and a reader (one statement, one snapshot)
sees a prefix of the feed, never a hole it would skip. The lock is held only for the tail of each
transaction (taken last, after the file's own row), so writers of one space queue for a moment, those
of other spaces never (DynamoDB's HEAD#… item is only a counter: its writers never wait for one another).

Why not the DynamoDB feed's way without a hot item (numbers taken at once, holes waited for a grace
period): a PostgreSQL transaction that rolls back cannot void the number it took from a sequence, so
every rollback would leave a hole that readers wait out; and xid-based visibility does not order
numbers either (an older transaction may take a later number). A space's writers are a class, not
a crowd: they queue on its row for the few milliseconds of a commit (50 at once: test_catalog_school).

A file's row in `changes` is replaced by each change, so a reader sees each file once, as of its latest
change: a deleted file is a `delete`, never an `upsert` left behind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from chalicelib.adapters.postgres.records import snapshot
from chalicelib.domain.models import FileRecord

if TYPE_CHECKING:
    import psycopg

    from chalicelib.adapters.postgres.db import Row


def append_change(conn: psycopg.Connection[Row], file: FileRecord, op: str) -> int:
    """Move `file` (its state after the transaction) to the end of its space's feed; answers its position.
    Call it last in the transaction, once the file's row is written (and locked)."""
    space = str(file.space)
    head = conn.execute(
        "INSERT INTO feed_heads (school, space, seq) VALUES (%s, %s, 1)"
        " ON CONFLICT (school, space) DO UPDATE SET seq = feed_heads.seq + 1 RETURNING seq",
        (file.school, space),
    ).fetchone()
    assert head is not None
    seq = int(head["seq"])
    conn.execute(
        "INSERT INTO changes (school, space, file_id, seq, op, file) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (school, space, file_id) DO UPDATE SET seq = EXCLUDED.seq, op = EXCLUDED.op,"
        " file = EXCLUDED.file",
        (file.school, space, file.id, seq, op, Jsonb(snapshot(file))),
    )
    conn.execute("UPDATE files SET change_seq = %s WHERE file_id = %s", (seq, file.id))
    return seq
