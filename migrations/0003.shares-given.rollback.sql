DROP INDEX IF EXISTS shares_creator;
