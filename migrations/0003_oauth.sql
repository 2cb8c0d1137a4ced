-- Sign-in state of a single instance (registrations, pending sign-ins, codes, tokens, Backlog grants),
-- so a restart signs nobody out: each row named by the SHA-256 of its key, each value encrypted (Fernet).
CREATE TABLE oauth (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    expires_at REAL,
    sealed TEXT NOT NULL
);
CREATE INDEX oauth_kind_expires ON oauth (kind, expires_at);
-- A grant's refresh is held by one process at a time (its refresh token rotates): a row with an expiry.
CREATE TABLE oauth_locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until REAL NOT NULL
);
