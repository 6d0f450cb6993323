-- The catalog in PostgreSQL: the same records as the DynamoDB table (chalicelib/adapters/dynamodb),
-- one table per kind of item. Text that orders a listing is COLLATE "C" (byte order, as DynamoDB's
-- sort keys); timestamps are timestamptz, kept to the second where the DynamoDB items keep an RFC 3339
-- second (the adapter truncates), to the microsecond where they keep microseconds (audit, notifications).
-- Work that falls due (a trashed file's purge, an unused grant, a closed year's retention, the
-- notifications' outbox) has a day and a moment, as DynamoDB's sparse `due` index: NULL when not due.

CREATE TABLE files (
    file_id text PRIMARY KEY,
    school text NOT NULL,
    space text COLLATE "C" NOT NULL,
    path text COLLATE "C" NOT NULL,
    entry text COLLATE "C" NOT NULL,          -- its name in its folder's index (records.entry)
    name text NOT NULL,
    size bigint NOT NULL,
    content_type text NOT NULL,
    sha256 text,
    status text NOT NULL,
    reason text,
    version integer NOT NULL,
    served_version integer NOT NULL DEFAULT 0,
    served_grant_order text COLLATE "C" NOT NULL DEFAULT '',
    change_seq bigint NOT NULL DEFAULT 0,
    owner text NOT NULL,
    subject text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    object_key text,
    arrived_at timestamptz,
    trashed_at timestamptz,
    purge_day text,
    purge_at timestamptz,
    purging_at timestamptz,
    purge_bytes bigint
);
-- The name claim (one file per name in a folder, trashed files aside) and the folder listing.
CREATE UNIQUE INDEX files_name ON files (school, space, path, entry) WHERE trashed_at IS NULL;
CREATE INDEX files_trash ON files (school, space, trashed_at DESC, file_id COLLATE "C" DESC)
    WHERE trashed_at IS NOT NULL;
CREATE INDEX files_purge_due ON files (purge_day, purge_at, file_id COLLATE "C") WHERE purge_day IS NOT NULL;
CREATE INDEX files_object ON files (object_key);

CREATE TABLE folders (
    school text NOT NULL,
    space text COLLATE "C" NOT NULL,
    path text COLLATE "C" NOT NULL,           -- the folder's own path, `/a/b/`
    parent text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    PRIMARY KEY (school, space, path)
);
CREATE INDEX folders_parent ON folders (school, space, parent, name);

CREATE TABLE uploads (
    upload_id text PRIMARY KEY,
    file_id text NOT NULL,
    school text NOT NULL,
    space text NOT NULL,
    path text NOT NULL,
    name text NOT NULL,
    size bigint NOT NULL,
    content_type text NOT NULL,
    sha256 text,
    owner text NOT NULL,
    status text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz,
    key text NOT NULL,
    object_key text,
    allowed_types text[],
    base_version integer,
    quota_key text,
    multipart_id text,
    grant_order text,
    completed_at timestamptz,
    part_size bigint,
    grant_day text,                           -- until its verdict: when its grant falls due (with grace)
    grant_due timestamptz
);
CREATE INDEX uploads_file ON uploads (file_id);
CREATE INDEX uploads_grant_due ON uploads (grant_day, grant_due, upload_id COLLATE "C") WHERE grant_day IS NOT NULL;

CREATE TABLE versions (
    file_id text NOT NULL,
    version integer NOT NULL,
    upload_id text NOT NULL,
    size bigint NOT NULL,
    content_type text NOT NULL,
    sha256 text NOT NULL,
    object_key text NOT NULL,
    owner text NOT NULL,
    created_at timestamptz NOT NULL,
    arrived_at timestamptz,
    infected text,
    PRIMARY KEY (file_id, version)
);

-- Where clean bytes of a digest already are in a space (dedup).
CREATE TABLE blobs (
    school text NOT NULL,
    space text NOT NULL,
    sha256 text NOT NULL,
    file_id text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    object_key text NOT NULL,
    size bigint NOT NULL,
    content_type text NOT NULL,
    owner text NOT NULL,
    subject text,
    PRIMARY KEY (school, space, sha256, file_id)
);
CREATE INDEX blobs_file ON blobs (file_id);

CREATE TABLE quotas (
    quota_key text PRIMARY KEY,
    used bigint NOT NULL
);

-- The change feed: one position per file (its latest change), numbered per space by the counter row
-- of the space (feed_heads), which each change takes last in its transaction (see changes.py).
CREATE TABLE feed_heads (
    school text NOT NULL,
    space text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (school, space)
);
CREATE TABLE changes (
    school text NOT NULL,
    space text NOT NULL,
    file_id text NOT NULL,
    seq bigint NOT NULL,
    op text NOT NULL,
    file jsonb NOT NULL,                      -- the file as of that change
    PRIMARY KEY (school, space, file_id)
);
CREATE UNIQUE INDEX changes_seq ON changes (school, space, seq);

CREATE TABLE classes (
    school text NOT NULL,
    class_id text COLLATE "C" NOT NULL,
    name text NOT NULL,
    teachers text[] NOT NULL,
    students text[] NOT NULL,
    archived_at timestamptz,
    year text,
    PRIMARY KEY (school, class_id)
);
CREATE TABLE members (
    school text NOT NULL,
    user_id text NOT NULL,
    class_id text COLLATE "C" NOT NULL,
    role text NOT NULL,
    archived boolean NOT NULL DEFAULT false,
    PRIMARY KEY (school, user_id, class_id)
);
CREATE TABLE assignments (
    school text NOT NULL,
    assignment_id text COLLATE "C" NOT NULL,
    class_id text NOT NULL,
    title text NOT NULL,
    due_at timestamptz NOT NULL,
    closes_at timestamptz,
    max_size bigint,
    allowed_types text[],
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    archived_at timestamptz,
    PRIMARY KEY (school, assignment_id)
);
CREATE INDEX assignments_class ON assignments (school, class_id, due_at, assignment_id);

CREATE TABLE shares (
    share_id text PRIMARY KEY,
    school text NOT NULL,
    file_id text NOT NULL,
    target_kind text NOT NULL,
    target_id text NOT NULL,
    role text NOT NULL,
    expires_at timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    position text COLLATE "C" NOT NULL,       -- `{createdAt}#{shareId}`: newest first by target
    gone_at timestamptz                       -- a day after it expires (DynamoDB's TTL): swept
);
CREATE INDEX shares_file ON shares (file_id);
CREATE INDEX shares_target ON shares (school, target_kind, target_id, position DESC);
CREATE INDEX shares_gone ON shares (gone_at) WHERE gone_at IS NOT NULL;

CREATE TABLE audit (
    school text NOT NULL,
    position text COLLATE "C" NOT NULL,       -- `{at to the microsecond}#{auditId}`
    audit_id text NOT NULL,
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    decision text NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL,
    gone_at timestamptz NOT NULL,
    PRIMARY KEY (school, position)
);
CREATE INDEX audit_actor ON audit (school, actor, position);
CREATE INDEX audit_gone ON audit (gone_at);

CREATE TABLE notifications (
    school text NOT NULL,
    audience text NOT NULL,
    position text COLLATE "C" NOT NULL,       -- Notification.position
    notification_id text NOT NULL,
    type text NOT NULL,
    at timestamptz NOT NULL,
    file_id text NOT NULL,
    space text NOT NULL,
    name text NOT NULL,
    version integer,
    reason text,
    late boolean,
    by_user text,
    expires_at timestamptz NOT NULL,
    outbox_day text,                          -- until published: the outbox (claimed by one drain)
    outbox_key text COLLATE "C",
    PRIMARY KEY (school, audience, position)
);
CREATE INDEX notifications_outbox ON notifications (outbox_day, outbox_key) WHERE outbox_day IS NOT NULL;
CREATE INDEX notifications_expiry ON notifications (expires_at);

CREATE TABLE jobs (
    job_id text PRIMARY KEY,
    school text NOT NULL,
    requester text NOT NULL,
    role text NOT NULL,
    kind text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    target text,
    name text,
    reason text,
    summary jsonb,
    gone_at timestamptz NOT NULL
);
CREATE INDEX jobs_gone ON jobs (gone_at);

CREATE TABLE rescan (
    id integer PRIMARY KEY CHECK (id = 1),
    progress jsonb NOT NULL
);

CREATE TABLE retention (
    school text COLLATE "C" NOT NULL,
    year text NOT NULL,
    due_day text NOT NULL,
    due_at timestamptz NOT NULL,
    PRIMARY KEY (school, year)
);
CREATE INDEX retention_due ON retention (due_day, due_at, school);

-- Idempotency keys and rate windows: epoch seconds, as the DynamoDB items' `ttl`.
CREATE TABLE idempotency (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    state text NOT NULL,
    claimed_at bigint NOT NULL,
    expires bigint NOT NULL,
    status integer,
    headers text,
    body text,
    is_json boolean,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_expires ON idempotency (expires);

CREATE TABLE rate_windows (
    scope text NOT NULL,
    window_key text NOT NULL,
    count integer NOT NULL,
    expires bigint NOT NULL,
    PRIMARY KEY (scope, window_key)
);
CREATE INDEX rate_windows_expires ON rate_windows (expires);
