-- depends: 0001.catalog
-- Grants waiting for their bytes, counted per user and per pupil's submission (policies/quotas.json's
-- `pending`): a grant joins each of its counts on condition it stays under its limit, its verdict
-- (whatever it is) leaves them, as the DynamoDB catalog's PENDING#... items.
CREATE TABLE pending_grants (
    counter text PRIMARY KEY,
    waiting integer NOT NULL
);
