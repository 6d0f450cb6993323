"""The catalog in one DynamoDB table: files, uploads, versions, folders, classes and memberships.

Keys (pk / sk):
  FILE#{fileId} / FILE              the file: current version and state; GSI `dir` lists it in its folder
  FILE#{fileId} / VERSION#{n:08d}   each version that became available
  UPLOAD#{uploadId} / UPLOAD        one grant and its verdict
  NAME#{school}#{space}#{path}{entry} / NAME  claims a name in a folder (one file per name); in an
                                    assignment space the entry is `{owner}/{name}`: each student's own
  SCHOOL#{school} / ASSIGNMENT#{id} an assignment (GSI: ASSIGNMENTS#{school}#{classId})
  FOLDER#{school}#{space}#{path} / FOLDER     a folder; GSI `dir` lists it in its parent
  SCHOOL#{school} / CLASS#{classId} a class and its members
  MEMBER#{school}#{userId} / CLASS#{classId}  a user's membership of a class (role)
  FILE#{fileId} / SHARE#{shareId}   a share of the file (GSI: SHAREDWITH#{school}#{kind}#{id})
  SHARE#{shareId} / SHARE           the same share, found by its id
  GIVEN#{school}#{userId} / {createdAt}#{shareId}  the same share, among those its creator made
  AUDIT#{school} / {at}#{id}        the school's audit trail (GSI: AUDITUSER#{school}#{actor})
  CHG#{school}#{space} / {seq:012d}  a file's latest change in its space's feed, or a void where one was
                                    (HEAD#… / HEAD: the counter, taken by atomic ADD; see `changes`)
  SHA#{school}#{space}#{sha256} / FILE#{fileId}  where clean bytes of a digest already are (dedup)
  NOTIF#{school}#{audience} / {at}#{id}  a notification of a user, a class or its teachers (TTL 90 days)
  JOB#{id} / JOB                            a ZIP built off the request (TTL: a day after its ZIP goes)
  RESCAN / RESCAN                           how far the current rescan got
  RETAIN#{school}#{year} / RETAIN           when a closed year falls past the retention (due index)
A trashed file leaves its folder for gsi1pk = `TRASH#{school}#{space}`, and the sparse GSI `due`
(gsi2pk = `DUE#trash#{day}`) finds it when its purge falls due; a grant is in it as
`DUE#grant#{day}` until its verdict, so the sweeper finds grants that expired unused.
GSI `dir` (gsi1pk, gsi1sk) is overloaded: for files and folders, gsi1pk = `{school}#{space}#{folder}`
and gsi1sk = `D#{name}` / `F#{name}`, so one query returns a folder's subfolders then its files in
name order; for shares it lists what a user or class received; for audit, one actor's entries.

Modules: `table` (the core: calls, transactions, batches, items, errors, cursors, due keys, the table's
definition), `records` (files, uploads and versions as items), `changes` (the spaces' feeds, no hot item),
one repository per aggregate (`files`,
`verdicts`, `trash`, `classes`, `shares`, `audit`, `feeds`) and `catalog`, the facade that composes them.
"""

from chalicelib.adapters.dynamodb.catalog import DynamoCatalog
from chalicelib.adapters.dynamodb.records import dir_key
from chalicelib.adapters.dynamodb.table import decode_cursor, dump, encode_cursor, load, table_definition, translate

__all__ = [
    "DynamoCatalog",
    "decode_cursor",
    "dir_key",
    "dump",
    "encode_cursor",
    "load",
    "table_definition",
    "translate",
]
