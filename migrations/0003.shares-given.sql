-- depends: 0002.pending-grants
-- The shares a user made, newest first (GET /v1/shares/given), as the DynamoDB catalog's GIVEN#... items.
CREATE INDEX shares_creator ON shares (school, created_by, position DESC);
