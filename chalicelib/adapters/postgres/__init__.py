"""The catalog in PostgreSQL: the same methods and semantics as the DynamoDB catalog, for providers
that offer PostgreSQL and no DynamoDB (issue 20). Schema: `migrations/` (yoyo), applied by
`python -m chalicelib.adapters.postgres.migrate`.

How DynamoDB's ways map here:
  one item per record       one row per record, one table per kind (`files`, `uploads`, `versions`,
                            `folders`, `blobs`, `quotas`, `classes`, `members`, `assignments`,
                            `shares`, `audit`, `notifications`, `jobs`, `retention`, `rescan`, ...)
  TransactWriteItems        one SQL transaction (`Database.transaction`)
  a condition               a `WHERE` clause (no row: the condition failed) or a row lock taken first
                            (`SELECT ... FOR UPDATE`), with the same errors (StaleWriteError,
                            AlreadyExistsError, QuotaExceededError); a unique key taken is a lost race
  the NAME#... claim        a unique index on (school, space, path, entry) of files not in the trash
  GSI `dir` / sort keys     indexes over COLLATE "C" columns (byte order, as DynamoDB's), keyset pages
                            whose opaque cursors have the DynamoDB catalog's shape (base64 JSON)
  the sparse `due` index    nullable (day, moment) columns with partial indexes
  TTL                       `PostgresCatalog.expire(now)`: the sweeper's deletes (expiry.py); reads
                            treat an expired row as DynamoDB's reads treat an expired item
  CHG#/HEAD# (change feed)  `changes` and a counter row per space, taken last (changes.py)
  throttling, conflicts     503 (deadlock, serialization failure, timeouts, lost connection, full pool)

Modules: `db` (pool, transactions, errors, cursors, time), `records` (files, uploads, versions as
rows), one repository per aggregate (`files`, `verdicts`, `trash`, `classes`, `shares`, `audit`,
`feeds`), `changes` (the feed), `expiry` (TTL), `idempotency` (with the rate counter), `catalog` (the
facade) and `migrate`. Only `db` and the repositories import psycopg, and only when first used.
"""

from chalicelib.adapters.postgres.catalog import PostgresCatalog
from chalicelib.adapters.postgres.db import Database

__all__ = ["Database", "PostgresCatalog"]
