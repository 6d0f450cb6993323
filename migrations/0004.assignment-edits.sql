-- depends: 0002.pending-grants
-- Assignments a teacher edits and deletes: their instructions, and when one went to the trash with its
-- submissions (a deleted assignment leaves its class's list and answers 404; its row stays so that its
-- submissions' trash can still be listed until the purge).
ALTER TABLE assignments ADD COLUMN instructions text, ADD COLUMN deleted_at timestamptz;
