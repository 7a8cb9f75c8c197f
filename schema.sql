-- Parlor schema: the whole of it, in numbered steps. Step 1 is everything up to the first
-- `-- step 2:` line; each later change is appended as the next step, never as an edit to a
-- shipped one. An empty database runs every step, an older one the steps it lacks
-- (src/store/schema.rs); PRAGMA user_version records the last step applied.
-- Timestamps are integer Unix milliseconds, UTC. JSON columns hold JSON text.

CREATE TABLE tenants (
    id                 INTEGER PRIMARY KEY,
    uuid               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    public_key         TEXT UNIQUE,          -- Pigeons X-PUBLIC-KEY
    workspace_id       TEXT UNIQUE,          -- Trillet x-workspace-id
    utc_offset_minutes INTEGER NOT NULL DEFAULT 0,
    owner_id           INTEGER,              -- users.id, role admin (set after the user exists)
    assistant_id       INTEGER,              -- users.id, role assistant
    created_at         INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    oid           TEXT NOT NULL UNIQUE,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    role          TEXT NOT NULL,
    first_name    TEXT,
    last_name     TEXT,
    display_name  TEXT NOT NULL,
    prefix        TEXT,
    gender        TEXT,
    email         TEXT,
    phone         TEXT,
    avatar_url    TEXT,
    specialty     TEXT,
    external_id   TEXT,
    birthdate     TEXT,
    username      TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_tenant_username ON users(tenant_id, username) WHERE username IS NOT NULL;
CREATE INDEX users_tenant_role ON users(tenant_id, role, id);
CREATE INDEX users_tenant_external ON users(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_tenant_email ON users(tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX users_tenant_phone ON users(tenant_id, phone) WHERE phone IS NOT NULL;

-- Opaque bearer tokens. Only the SHA-256 of the secret is stored. A token with no user is a
-- server-admin token.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    tenant_id   INTEGER REFERENCES tenants(id),
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    abilities   TEXT NOT NULL DEFAULT '["*"]',   -- JSON array of strings
    label       TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

-- Tenant API keys: a public key id plus a secret stored as SHA-256.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    key         TEXT NOT NULL UNIQUE,
    secret_hash BLOB NOT NULL UNIQUE,
    label       TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

-- Providers a patient may message (MDLIVE "authorized providers").
CREATE TABLE contacts (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, contact_id)
) WITHOUT ROWID;

-- Trillet flows ("pathways").
CREATE TABLE flows (
    id                 INTEGER PRIMARY KEY,
    oid                TEXT NOT NULL UNIQUE,
    tenant_id          INTEGER NOT NULL REFERENCES tenants(id),
    name               TEXT NOT NULL,
    channel            TEXT NOT NULL,           -- sms | email
    agent_id           INTEGER REFERENCES users(id),
    initiation_message TEXT NOT NULL,
    created_at         INTEGER NOT NULL
);
CREATE INDEX flows_tenant ON flows(tenant_id);

CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT NOT NULL UNIQUE,
    oid               TEXT NOT NULL UNIQUE,
    tenant_id         INTEGER NOT NULL REFERENCES tenants(id),
    name              TEXT,
    status            TEXT NOT NULL DEFAULT 'active',   -- active | archived
    archived_at       INTEGER,
    locked            INTEGER NOT NULL DEFAULT 0,
    deleted           INTEGER NOT NULL DEFAULT 0,
    tag_type          TEXT,
    tag_id            TEXT,                              -- JSON scalar
    tag_info          TEXT,                              -- JSON
    metadata          TEXT NOT NULL DEFAULT '{}',        -- JSON object
    flow_id           INTEGER REFERENCES flows(id),
    agent_id          INTEGER REFERENCES users(id),
    customer_id       INTEGER REFERENCES users(id),
    created_by        INTEGER REFERENCES users(id),
    last_seq          INTEGER NOT NULL DEFAULT 0,        -- highest seq handed out
    last_message_id   INTEGER,
    last_message_text TEXT,
    last_message_at   INTEGER,
    last_sender_id    INTEGER,
    message_count     INTEGER NOT NULL DEFAULT 0,        -- live (not deleted) messages
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
-- The admin inbox: a tenant's conversations by last activity, never-messaged ones last.
CREATE INDEX conversations_tenant_activity ON conversations(tenant_id, COALESCE(last_message_at, 0) DESC, id DESC);
CREATE INDEX conversations_flow ON conversations(flow_id) WHERE flow_id IS NOT NULL;

-- The participant pivot. sort_at is the conversation's last_message_at (0 before the first
-- message) carried here so one user's conversations list by last activity straight off an
-- index, whatever the number of conversations.
CREATE TABLE participants (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at       INTEGER NOT NULL,
    unread_count    INTEGER NOT NULL DEFAULT 0,
    last_read_at    INTEGER,
    last_read_seq   INTEGER NOT NULL DEFAULT 0,
    muted           INTEGER NOT NULL DEFAULT 0,
    sort_at         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_user_activity ON participants(user_id, sort_at DESC, conversation_id DESC);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    oid             TEXT NOT NULL UNIQUE,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users(id),
    recipient_id    INTEGER REFERENCES users(id),
    body            TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'text',   -- text | image | file | audio | video
    subject         TEXT,
    reply_to_id     INTEGER REFERENCES messages(id),
    status          TEXT,                           -- Trillet: pending | approved | rejected | received
    metadata        TEXT NOT NULL DEFAULT '{}',
    attachments     TEXT NOT NULL DEFAULT '[]',
    device          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    UNIQUE (conversation_id, seq)
);

-- Reads of single messages above the reader's horizon (participants.last_read_seq).
CREATE TABLE message_reads (
    conversation_id INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    message_id      INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    read_at         INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id, seq)
) WITHOUT ROWID;

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

-- Pigeons push devices: one token per user and platform.
CREATE TABLE push_devices (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token      TEXT NOT NULL,
    platform   TEXT NOT NULL,
    device     TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, platform)
);
CREATE INDEX push_devices_token ON push_devices(tenant_id, token);

-- Users with unread messages, for the unread summary without scanning every membership.
CREATE INDEX participants_user_unread ON participants(user_id, conversation_id) WHERE unread_count > 0;

-- Server-wide values created once (the generated JWT secret when the config sets none).
CREATE TABLE server_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- step 2: Idempotency-Key. The first answer to each caller's key, replayed to its retries for
-- 24 hours. A row is claimed (status NULL) in the transaction that makes the request's first
-- write, and its answer recorded once the response is built: a claim without an answer means
-- the write committed but the answer was lost (a crash in between), so a retry is refused
-- instead of writing twice.
CREATE TABLE idempotency_keys (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    caller       TEXT NOT NULL,       -- the surface and who its credentials speak for
    key          TEXT NOT NULL,       -- the Idempotency-Key header as sent
    request_hash BLOB NOT NULL,       -- SHA-256 of the method, path and query, and body
    created_at   INTEGER NOT NULL,    -- first use; the key expires 24 hours later
    status       INTEGER,             -- the answer: NULL while only claimed
    content_type TEXT,
    body         BLOB,
    PRIMARY KEY (tenant_id, caller, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- step 3: Never-messaged conversations sort by creation, newest first: on their members' rows
-- after every messaged one (`participants::NEVER_MESSAGED` below every message time), and
-- across a tenant by `COALESCE(last message, creation)` (Respondent: starting a conversation
-- is activity), each off an index.
UPDATE participants SET sort_at = (
    SELECT c.created_at + -4611686018427387904 FROM conversations c
    WHERE c.id = participants.conversation_id)
WHERE conversation_id IN (SELECT id FROM conversations WHERE last_message_at IS NULL);
CREATE INDEX conversations_tenant_recent
    ON conversations(tenant_id, COALESCE(last_message_at, created_at) DESC, id DESC);

-- step 4: Respondent's total counts the tenant's live conversations: off this index alone,
-- instead of every conversation row (22 MB at 100,000 conversations, read on each request).
CREATE INDEX conversations_tenant_live ON conversations(tenant_id, deleted);

-- step 5: The audit trail (45 CFR 164.312(b)): who touched what, one row per request or
-- audited write, never edited. Each row's `hash` is SHA-256 of the previous row's hash and this
-- row's fields (`store::audit::canonical`), so a changed, inserted or removed row breaks the
-- chain (`parlor audit verify`). `audit_anchor` holds the last row pruned by the trail's own
-- retention, where the chain resumes. `audit_patients` indexes rows by the patients they
-- concern (derived from `patients`, for the access report).
CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,     -- ms since the epoch, UTC
    tenant_id   INTEGER,              -- NULL: server-wide (a server admin's call, the CLI)
    actor_kind  TEXT NOT NULL,        -- user | api_key | server_admin | system | anonymous
    actor_id    INTEGER,              -- the user's or API key's id
    credential  TEXT,                 -- token:N, api_key:N, session:N, jwt, password (never a secret)
    surface     TEXT NOT NULL,        -- native | admin | mdlive | tati | trillet | pigeons | respondent | cli | system
    action      TEXT NOT NULL,
    route       TEXT,                 -- the method and route template
    objects     TEXT NOT NULL,        -- JSON [[type, id], ...]
    patients    TEXT NOT NULL,        -- JSON [user id, ...]
    outcome     TEXT NOT NULL,        -- ok | refused | not_found | invalid | failed
    status      INTEGER,
    client      TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    detail      TEXT,                 -- JSON counts of a run (retention, export), never content
    hash        TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit(tenant_id, seq);
CREATE INDEX audit_at ON audit(at);
CREATE TABLE audit_patients (
    patient_id INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (patient_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_anchor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);

-- step 6: Retention and legal hold (issue 13). A tenant keeps its messages `message_days`
-- days (no row, or NULL: forever); the sweep hard-deletes older ones that no active hold
-- covers. The last real run's counts stay on the policy row for the admin page (counts only,
-- never content).
CREATE TABLE retention_policies (
    tenant_id          INTEGER PRIMARY KEY REFERENCES tenants(id),
    message_days       INTEGER,              -- NULL: keep forever
    updated_at         INTEGER NOT NULL,
    last_run_at        INTEGER,
    last_removed       INTEGER,              -- messages removed by the last run
    last_conversations INTEGER,              -- conversations that lost messages in it
    last_held          INTEGER               -- expired messages kept because a hold covers them
);

-- A legal hold on one conversation or one user (typically a patient): everything it covers is
-- kept whatever the retention. Released, never deleted: the record of the hold stays.
-- placed_by / released_by NULL: the server admin.
CREATE TABLE legal_holds (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id INTEGER REFERENCES conversations(id),
    user_id         INTEGER REFERENCES users(id),
    reason          TEXT NOT NULL,
    placed_by       INTEGER REFERENCES users(id),
    placed_at       INTEGER NOT NULL,
    released_by     INTEGER REFERENCES users(id),
    released_at     INTEGER,
    CHECK ((conversation_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX legal_holds_tenant ON legal_holds(tenant_id, released_at);

-- Deleting a message makes SQLite look up the rows that point at it (foreign keys): without
-- these, every purged message scanned the whole messages and message_reads tables. The reply
-- index is partial, so a send that replies to nothing pays nothing for it.
CREATE INDEX messages_reply_to ON messages(reply_to_id) WHERE reply_to_id IS NOT NULL;
CREATE INDEX message_reads_message ON message_reads(message_id);

-- step 7: The event log (issue 14). One row per change, written in the change's own
-- transaction; `seq` is the id a Server-Sent Events client resumes from. AUTOINCREMENT so that a
-- seq is never handed out twice, even once the retention window has emptied the table.
-- `subject_id`: the user a participant or read event is about (a removed participant still
-- hears of their removal). `payload`: ids and unread counts as JSON, never message text.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    type            TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,        -- user | api_key | server_admin | system | anonymous
    actor_id        INTEGER,
    at              INTEGER NOT NULL,     -- unix millis
    conversation_id INTEGER,
    message_id      INTEGER,
    subject_id      INTEGER,
    payload         TEXT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, seq);
CREATE INDEX events_at ON events(at);

-- step 8: Webhooks (issue 14). An endpoint is a tenant's URL and the event types it wants.
-- `secret` is the Standard Webhooks key (`whsec_…`): a shared HMAC key, so it is stored as it
-- is (the whole file is encrypted with encryption at rest); `previous_secret` still signs
-- until `previous_until` after a rotation. `from_seq`: the last event committed when the
-- endpoint was created, so it never receives older ones.
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,        -- JSON array of event types, or ["*"]
    format          TEXT NOT NULL DEFAULT 'parlor',
    include_text    INTEGER NOT NULL DEFAULT 0,
    capture         INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    description     TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    from_seq        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, id);

-- How far the dispatcher has read the event log: advanced in the same transaction as the
-- deliveries it enqueued, so a restart resumes exactly. Starts at the log's end when this step
-- runs: history is not delivered.
CREATE TABLE webhook_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO webhook_cursor (id, seq)
    VALUES (1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0));

-- One event for one endpoint. `uid` is the `webhook-id` header, the same on every attempt.
-- `body` is built when the delivery is enqueued, so every attempt sends the same bytes.
-- status: pending | delivered | failed | captured.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id   INTEGER NOT NULL,
    event_seq   INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    round_start INTEGER NOT NULL DEFAULT 0, -- `attempts` when last replayed: retries restart
    next_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
-- Each endpoint's oldest pending delivery, which alone may be sent (order per endpoint).
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_at);

-- The outbox: every attempt, as sent (headers with signatures, never the secret) and as
-- answered (status, the first KiB of the body, time taken, or the error).
CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    request_headers  TEXT NOT NULL,       -- JSON array of [name, value]
    request_body     TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    duration_ms      INTEGER,
    error            TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);

-- step 9: Invites and password resets (issue 18): one-time, expiring links that let a user set
-- a password. Only the SHA-256 of the link's secret is kept. A link is live while it is unused,
-- unrevoked and unexpired; using it sets `used_at` in the same statement that checks that, so
-- a second use (even a concurrent one) finds nothing. purpose: invite | reset.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    secret_hash BLOB NOT NULL UNIQUE,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX invites_user ON invites(user_id, id);

-- step 10: The language a user reads Parlor in ("en", "es"; issue 18): the clinic's app shows
-- itself in it and e-mail notices are written in it. NULL: not chosen yet (the browser's).
ALTER TABLE users ADD COLUMN language TEXT;

-- step 11: Attachments (issue 16). A file uploaded into a conversation, kept inside this one
-- file (one backup has everything; encryption at rest covers it). Its bytes are
-- `attachment_chunks` rows of at most 1 MiB, written one writer command each (so a large
-- upload never holds the writer for long) with SQLite's incremental blob I/O, and read back
-- the same way; each chunk carries its SHA-256, checked on every read, and the file its whole
-- SHA-256 (the ETag, checked by `parlor check`). `message_id` is NULL until a send attaches
-- it; unsent uploads are removed after a while. state: uploading | ready.
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    uploader_id     INTEGER NOT NULL REFERENCES users(id),
    message_id      INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL DEFAULT 0,
    sha256          TEXT,                 -- hex, once complete
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_unsent ON attachments(created_at) WHERE message_id IS NULL;
CREATE INDEX attachments_tenant ON attachments(tenant_id);
CREATE INDEX attachments_conversation ON attachments(conversation_id, id);

-- A rowid table: incremental blob I/O opens a blob by its row's rowid. `data` comes last so
-- that reading a chunk's digest and length never reads its overflow pages.
CREATE TABLE attachment_chunks (
    id            INTEGER PRIMARY KEY,
    attachment_id INTEGER NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    n             INTEGER NOT NULL,
    sha256        BLOB NOT NULL,
    data          BLOB NOT NULL,
    UNIQUE (attachment_id, n)
);

-- What a message carries, as its readers render it (uuid, name, type, size of each file),
-- kept on the message so that a page of messages needs no second statement. NULL: none.
ALTER TABLE messages ADD COLUMN files TEXT;

-- step 12: Full-text search of message bodies (issue 16). `message_search` is an FTS5 index with
-- external content: it stores the words and where they are, never the bodies a second time;
-- `snippet()` reads a body from `message_search_source`, the messages a search may find (live
-- messages of live conversations). Besides `body`, each message is indexed with its `scope`:
-- two words made of a private-use character (U+E000) and `t<tenant id>`, `c<conversation id>`,
-- which a query ANDs in so that FTS5 itself keeps to one tenant or a user's conversations. A
-- client's words can never match them: Parlor builds every query from letters and digits only.
-- Words are folded to lower case without diacritics (a Spanish-speaking clinic types "medico"
-- for "médico"). Ranked by bm25 on the body alone. `secure-delete`: a deleted or edited message's
-- words leave the index at once, not at the next merge (retention must leave nothing behind).
-- The triggers keep the index in the transaction of every change to a message or a
-- conversation's deletion; each mirrors the view's condition, since an FTS5 'delete' must name
-- exactly what was indexed.
CREATE VIEW message_search_source AS
    SELECT m.id AS id, m.body AS body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id AS scope
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.deleted_at IS NULL AND c.deleted = 0;
CREATE VIRTUAL TABLE message_search USING fts5(
    body, scope,
    content = 'message_search_source', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_search (message_search, rank) VALUES ('rank', 'bm25(1.0, 0.0)');
INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);
INSERT INTO message_search (message_search) VALUES ('rebuild');

CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.deleted_at IS NULL
BEGIN
    INSERT INTO message_search (rowid, body, scope)
    SELECT new.id, new.body,
           char(57344) || 't' || new.tenant_id || ' ' || char(57344) || 'c' || new.conversation_id
    WHERE EXISTS (SELECT 1 FROM conversations WHERE id = new.conversation_id AND deleted = 0);
END;

CREATE TRIGGER message_search_update
AFTER UPDATE OF body, deleted_at, tenant_id, conversation_id ON messages
WHEN old.body IS NOT new.body OR old.deleted_at IS NOT new.deleted_at
  OR old.tenant_id IS NOT new.tenant_id OR old.conversation_id IS NOT new.conversation_id
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', old.id, old.body,
           char(57344) || 't' || old.tenant_id || ' ' || char(57344) || 'c' || old.conversation_id
    WHERE old.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM conversations WHERE id = old.conversation_id AND deleted = 0);
    INSERT INTO message_search (rowid, body, scope)
    SELECT new.id, new.body,
           char(57344) || 't' || new.tenant_id || ' ' || char(57344) || 'c' || new.conversation_id
    WHERE new.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM conversations WHERE id = new.conversation_id AND deleted = 0);
END;

-- A message removed with its conversation (a cascade) has left the index already: its
-- conversation's row is gone by then, and `message_search_forget_conversation` ran before.
CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.deleted_at IS NULL
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', old.id, old.body,
           char(57344) || 't' || old.tenant_id || ' ' || char(57344) || 'c' || old.conversation_id
    WHERE EXISTS (SELECT 1 FROM conversations WHERE id = old.conversation_id AND deleted = 0);
END;

CREATE TRIGGER message_search_conversation AFTER UPDATE OF deleted ON conversations
WHEN (old.deleted = 0) <> (new.deleted = 0)
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE old.deleted = 0 AND m.conversation_id = old.id AND m.deleted_at IS NULL;
    INSERT INTO message_search (rowid, body, scope)
    SELECT m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE new.deleted = 0 AND m.conversation_id = new.id AND m.deleted_at IS NULL;
END;

CREATE TRIGGER message_search_forget_conversation BEFORE DELETE ON conversations
WHEN old.deleted = 0
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE m.conversation_id = old.id AND m.deleted_at IS NULL;
END;

-- step 13: A new message is indexed when its batch commits, not by its own command (issue 16).
-- FTS5 writes out the words it holds at the end of every savepoint, and the writer runs each
-- command in a savepoint of its own: indexed by the insert trigger, every send wrote its own
-- small segment and merged it into the others, which cost sends a third of their throughput.
-- Now the insert trigger notes the message in `message_search_pending`, and the writer indexes
-- the noted messages as `message_search_source` has them, with their words in one segment,
-- just before it commits, in the same transaction (`message_search::index_pending`): a search
-- still sees every committed message. The other triggers leave a noted message alone (nothing
-- of it is in the index to take out, and what it is by the commit is what gets indexed).
CREATE TABLE message_search_pending (id INTEGER PRIMARY KEY);

DROP TRIGGER message_search_insert;
CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.deleted_at IS NULL
BEGIN
    INSERT OR IGNORE INTO message_search_pending (id) VALUES (new.id);
END;

DROP TRIGGER message_search_update;
CREATE TRIGGER message_search_update
AFTER UPDATE OF body, deleted_at, tenant_id, conversation_id ON messages
WHEN (old.body IS NOT new.body OR old.deleted_at IS NOT new.deleted_at
      OR old.tenant_id IS NOT new.tenant_id OR old.conversation_id IS NOT new.conversation_id)
  AND NOT EXISTS (SELECT 1 FROM message_search_pending WHERE id = old.id)
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', old.id, old.body,
           char(57344) || 't' || old.tenant_id || ' ' || char(57344) || 'c' || old.conversation_id
    WHERE old.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM conversations WHERE id = old.conversation_id AND deleted = 0);
    INSERT INTO message_search (rowid, body, scope)
    SELECT new.id, new.body,
           char(57344) || 't' || new.tenant_id || ' ' || char(57344) || 'c' || new.conversation_id
    WHERE new.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM conversations WHERE id = new.conversation_id AND deleted = 0);
END;

DROP TRIGGER message_search_delete;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages
WHEN old.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM message_search_pending WHERE id = old.id)
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', old.id, old.body,
           char(57344) || 't' || old.tenant_id || ' ' || char(57344) || 'c' || old.conversation_id
    WHERE EXISTS (SELECT 1 FROM conversations WHERE id = old.conversation_id AND deleted = 0);
END;

DROP TRIGGER message_search_conversation;
CREATE TRIGGER message_search_conversation AFTER UPDATE OF deleted ON conversations
WHEN (old.deleted = 0) <> (new.deleted = 0)
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE old.deleted = 0 AND m.conversation_id = old.id AND m.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_search_pending p WHERE p.id = m.id);
    INSERT INTO message_search (rowid, body, scope)
    SELECT m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE new.deleted = 0 AND m.conversation_id = new.id AND m.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_search_pending p WHERE p.id = m.id);
END;

DROP TRIGGER message_search_forget_conversation;
CREATE TRIGGER message_search_forget_conversation BEFORE DELETE ON conversations
WHEN old.deleted = 0
BEGIN
    INSERT INTO message_search (message_search, rowid, body, scope)
    SELECT 'delete', m.id, m.body,
           char(57344) || 't' || m.tenant_id || ' ' || char(57344) || 'c' || m.conversation_id
    FROM messages m WHERE m.conversation_id = old.id AND m.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_search_pending p WHERE p.id = m.id);
END;
