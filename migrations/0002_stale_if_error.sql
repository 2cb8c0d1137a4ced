-- Keep rows past their TTL for a grace period so a failing Backlog can be answered from the
-- last good copy (stale-if-error); rows are purged once the grace period ends too.
ALTER TABLE responses ADD COLUMN stale_until REAL;
UPDATE responses SET stale_until = expires_at WHERE stale_until IS NULL;
CREATE INDEX responses_stale_until ON responses (stale_until);
CREATE INDEX responses_scope_path ON responses (scope, path);
