ALTER TABLE assignments DROP COLUMN deleted_at, DROP COLUMN instructions;
