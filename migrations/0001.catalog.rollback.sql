DROP TABLE IF EXISTS rate_windows, idempotency, retention, rescan, jobs, notifications, audit, shares,
    assignments, members, classes, changes, feed_heads, quotas, blobs, versions, uploads, folders, files;
