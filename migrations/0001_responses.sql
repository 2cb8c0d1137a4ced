-- Successful GET responses, one row per request. `key` hashes the base URL, an identity hash of
-- the API key, the path and the sorted params; the key itself is never stored.
CREATE TABLE responses (
    key        TEXT PRIMARY KEY,
    scope      TEXT NOT NULL,  -- base URL + API-key hash: the space and key this row belongs to
    path       TEXT NOT NULL,  -- API path without the query, for invalidation after writes
    body       TEXT NOT NULL,  -- the JSON body as Backlog sent it
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX responses_expires_at ON responses (expires_at);
