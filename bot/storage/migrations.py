"""Versioned schema migrations.

`MIGRATIONS[i]` takes the schema from version `i` to version `i + 1`; the version
is kept in `PRAGMA user_version`. Each script runs in one transaction together
with the version bump, so a crash leaves the database at the old or the new
version, never in between.

Rules for new migrations:
- Append only. Never edit or reorder a migration that has been released.
- Only statements that are allowed inside a transaction (no `VACUUM`, no
  `PRAGMA journal_mode`); `Database` sets the connection pragmas itself.
- Statements are split with `sqlite3.complete_statement`, so triggers with
  `BEGIN ... END` bodies work.
"""

from __future__ import annotations

# Version 1: PTB persistence, the registration journal and the model cache.
_V1 = """
-- PTB persistence (bot/storage/persistence.py). `data` is a JSON object.
CREATE TABLE ptb_user_data (
    user_id    INTEGER PRIMARY KEY,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE ptb_chat_data (
    chat_id    INTEGER PRIMARY KEY,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE ptb_bot_data (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- `key` is json.dumps(list(key)), e.g. '[-100123, 42]'; `state` is the JSON of an int or str.
CREATE TABLE ptb_conversations (
    name       TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;

-- Registration journal (bot/storage/journal.py). One row per tracker/register attempt,
-- written before the request is sent. No secrets: no activation code, APN credentials
-- or phone numbers.
CREATE TABLE registration_attempts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id          TEXT    NOT NULL,
    user_id           INTEGER NOT NULL,
    chat_id           INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    plugin_id         INTEGER NOT NULL,
    device_id         TEXT,
    label             TEXT    NOT NULL,
    group_id          INTEGER NOT NULL,
    status            TEXT    NOT NULL
        CHECK (status IN ('sending', 'success', 'failed', 'unknown')),
    tracker_id        INTEGER,
    error_code        INTEGER,
    error_description TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    CHECK (status <> 'success' OR tracker_id IS NOT NULL)
);

-- A draft never gets two successful registrations.
CREATE UNIQUE INDEX registration_attempts_one_success
    ON registration_attempts (draft_id) WHERE status = 'success';

CREATE INDEX registration_attempts_by_draft ON registration_attempts (draft_id, id);

CREATE INDEX registration_attempts_by_user ON registration_attempts (user_id, id);

CREATE INDEX registration_attempts_unresolved
    ON registration_attempts (id) WHERE status IN ('sending', 'unknown');

CREATE INDEX registration_attempts_success_device
    ON registration_attempts (device_id) WHERE status = 'success';

-- Model list cache (bot/storage/model_cache.py): a single row, replaced atomically.
CREATE TABLE model_cache (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_at TEXT NOT NULL,
    models     TEXT NOT NULL
);
"""

# Version 2: watching registered devices until they are online (bot/storage/watches.py).
# Times are seconds of the watcher's clock (Unix time in production). No secrets: APN
# credentials for a retry are asked at retry time and never stored here.
_V2 = """
CREATE TABLE watches (
    tracker_id        INTEGER PRIMARY KEY,
    chat_id           INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    user_name         TEXT    NOT NULL DEFAULT '',
    lang              TEXT,
    label             TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    model_title       TEXT,
    device_id         TEXT,
    manual_config     INTEGER NOT NULL DEFAULT 0,
    started_at        REAL    NOT NULL,
    status            TEXT    NOT NULL
        CHECK (status IN ('waiting', 'online', 'done', 'dismissed', 'expired', 'gone')),
    status_message_id INTEGER,
    polled_at         REAL,
    connected_at      REAL,
    fix_sent          INTEGER NOT NULL DEFAULT 0,
    last_state        TEXT,
    retries           INTEGER NOT NULL DEFAULT 0,
    last_retry_at     REAL,
    last_retry_result TEXT,
    apn_changed       INTEGER NOT NULL DEFAULT 0,
    auto_retry_done   INTEGER NOT NULL DEFAULT 0,
    options_sent      INTEGER NOT NULL DEFAULT 0,
    escalated         INTEGER NOT NULL DEFAULT 0,
    checks            TEXT    NOT NULL DEFAULT '{}',
    ended_at          REAL,
    updated_at        TEXT    NOT NULL
);

CREATE INDEX watches_active ON watches (tracker_id) WHERE status IN ('waiting', 'online');

CREATE INDEX watches_by_user ON watches (user_id, status);
"""

# Never a wrong or lost result (issue 8): per attempt, the tracker snapshot taken before
# sending (JSON list of tracker ids whose label matched), where and to whom the result goes
# (card message, language, first name), the device ID Navixy assigned, and when Telegram
# confirmed the result (`delivered_at`, NULL = delivery pending for a success). Successes
# from before this version count as delivered.
# `quarantine` keeps rows that could not be read at start-up (bot/storage/conversations.py).
_RESULT_DELIVERY = """
ALTER TABLE registration_attempts ADD COLUMN snapshot TEXT;

ALTER TABLE registration_attempts ADD COLUMN card_message_id INTEGER;

ALTER TABLE registration_attempts ADD COLUMN lang TEXT;

ALTER TABLE registration_attempts ADD COLUMN user_name TEXT NOT NULL DEFAULT '';

ALTER TABLE registration_attempts ADD COLUMN delivered_at TEXT;

ALTER TABLE registration_attempts ADD COLUMN assigned_device_id TEXT;

UPDATE registration_attempts SET delivered_at = updated_at WHERE status = 'success';

CREATE INDEX registration_attempts_undelivered
    ON registration_attempts (id) WHERE status = 'success' AND delivered_at IS NULL;

CREATE TABLE quarantine (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    source         TEXT NOT NULL,
    row_key        TEXT NOT NULL,
    data           TEXT,
    reason         TEXT NOT NULL,
    quarantined_at TEXT NOT NULL
);
"""

# user_languages: the language each user speaks (bot/storage/languages.py). `chosen` is what
# they picked with /language (NULL: follow Telegram), `telegram` the `language_code` their
# Telegram app sent last. Messages the bot sends on its own (watch updates, escalations,
# recovery notices) are written in this language.
_USER_LANGUAGES = """
CREATE TABLE user_languages (
    user_id    INTEGER PRIMARY KEY,
    chosen     TEXT,
    telegram   TEXT,
    updated_at TEXT NOT NULL
);
"""

# Crews and admins (bot/storage/access.py, audit.py, crews.py): who may register (roles,
# seeded from ADMIN_IDS/INSTALLER_IDS, granted by invites and approved requests), the
# append-only audit trail, and the group chats linked as crews.
_CREWS_AND_ROLES = """
-- One row per user who ever held a role. `revoked_at` set: no role (kept, so a revoked
-- user seeded from INSTALLER_IDS stays revoked after a restart). `granted_by` NULL: the
-- environment (ADMIN_IDS/INSTALLER_IDS).
CREATE TABLE roles (
    user_id      INTEGER PRIMARY KEY,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'installer')),
    name         TEXT    NOT NULL DEFAULT '',
    granted_by   INTEGER,
    granted_at   TEXT    NOT NULL,
    revoked_by   INTEGER,
    revoked_at   TEXT,
    last_seen_at TEXT
);

-- /invite: a code in t.me/<bot>?start=<code>; `uses_left` counts down to 0.
CREATE TABLE invites (
    code       TEXT    PRIMARY KEY,
    created_by INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0)
) WITHOUT ROWID;

-- A stranger's request for access; `status`: pending, approved, rejected.
CREATE TABLE access_requests (
    user_id      INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    requested_at TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by   INTEGER,
    decided_at   TEXT
);

-- Append-only: role changes, invites, approvals, revocations, registrations. No secrets.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT    NOT NULL,
    actor_id   INTEGER,
    action     TEXT    NOT NULL,
    subject_id INTEGER,
    detail     TEXT    NOT NULL DEFAULT ''
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

-- Group chats linked with /crew: default Navixy tracker group, language, optional lead.
CREATE TABLE crews (
    chat_id   INTEGER PRIMARY KEY,
    title     TEXT    NOT NULL DEFAULT '',
    group_id  INTEGER,
    language  TEXT,
    lead_id   INTEGER,
    lead_name TEXT,
    linked_by INTEGER NOT NULL,
    linked_at TEXT    NOT NULL
);

-- Who belongs to a crew: members the bot saw in its chat (their registrations elsewhere,
-- e.g. in a private chat, are announced there too).
CREATE TABLE crew_members (
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    seen_at TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
"""

# What each watch's status message last showed (issue 11, the outbound scheduler): a digest
# of its text and buttons and when it was edited, so that a restart edits nothing unchanged
# and routine edits keep to once a minute per message.
_OUTBOX_SHOWN = """
ALTER TABLE watches ADD COLUMN shown_digest TEXT;

ALTER TABLE watches ADD COLUMN shown_at REAL;
"""

MIGRATIONS: list[str] = [
    _V1,
    _V2,
    _RESULT_DELIVERY,
    _USER_LANGUAGES,
    _CREWS_AND_ROLES,
    _OUTBOX_SHOWN,
]

SCHEMA_VERSION = len(MIGRATIONS)
