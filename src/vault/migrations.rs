//! Versioned schema of `cdxs.db`. Each entry runs once, in order, inside one transaction;
//! `PRAGMA user_version` records how far a vault has come. Never edit a released entry:
//! add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: accounts, quota cache, key/value meta, tombstones (for sync).
    r#"
    CREATE TABLE accounts (
        id                  TEXT PRIMARY KEY,
        kind                TEXT NOT NULL CHECK (kind IN ('oauth', 'apikey')),
        email               TEXT,
        label               TEXT,
        chatgpt_account_id  TEXT,
        chatgpt_user_id     TEXT,
        organization_id     TEXT,
        plan_type           TEXT,
        id_token            TEXT,
        access_token        TEXT,
        refresh_token       TEXT,
        access_expires_at   INTEGER,
        token_issued_at     INTEGER,
        last_refresh        TEXT,
        api_key             TEXT,
        base_url            TEXT,
        requires_reauth     INTEGER NOT NULL DEFAULT 0,
        source              TEXT,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        last_used_at        INTEGER
    );
    CREATE INDEX accounts_email ON accounts (email);

    CREATE TABLE quota (
        account_id  TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        fetched_at  INTEGER NOT NULL,
        snapshot    TEXT NOT NULL
    );

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE tombstones (
        account_id  TEXT PRIMARY KEY,
        deleted_at  INTEGER NOT NULL
    );
    "#,
    // 2: the apply journal (generations, their actions and the files they replaced) and,
    // per auth.json, what cdxs last wrote there (drift baseline).
    r#"
    CREATE TABLE generations (
        id           INTEGER PRIMARY KEY,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        command      TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
        manifest     TEXT,
        rollback_of  INTEGER,
        pid          INTEGER,
        error        TEXT
    );

    CREATE TABLE journal_actions (
        generation   INTEGER NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        address      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        description  TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
        error        TEXT,
        PRIMARY KEY (generation, seq)
    );

    CREATE TABLE journal_files (
        generation          INTEGER NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
        seq                 INTEGER NOT NULL,
        path                TEXT NOT NULL,
        backup              TEXT,
        before_fingerprint  TEXT,
        after_fingerprint   TEXT
    );
    CREATE INDEX journal_files_generation ON journal_files (generation);

    CREATE TABLE baselines (
        path         TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        account_id   TEXT,
        generation   INTEGER,
        written_at   INTEGER NOT NULL
    );
    "#,
    // 3: a cache of rollout heads keyed by (path, size, mtime), so that a plan with nothing
    // changed never reads a rollout again.
    r#"
    CREATE TABLE rollout_heads (
        path      TEXT PRIMARY KEY,
        size      INTEGER NOT NULL,
        mtime_ns  INTEGER NOT NULL,
        head      TEXT NOT NULL
    );
    "#,
    // 4: rotation safety. Refresh tokens that were spent (sent to the issuer and answered
    // with new ones, or answered `refresh_token_reused`): a copy holding one is dead and is
    // never harvested or written again. And every folder cdxs wrote a login into (declared
    // in the manifest or not), so a refresh reaches all of them.
    r#"
    CREATE TABLE spent_tokens (
        fingerprint  TEXT PRIMARY KEY,
        account_id   TEXT NOT NULL,
        spent_at     INTEGER NOT NULL,
        why          TEXT NOT NULL
    );
    CREATE INDEX spent_tokens_account ON spent_tokens (account_id);

    CREATE TABLE placements (
        path        TEXT PRIMARY KEY,
        account_id  TEXT NOT NULL,
        written_at  INTEGER NOT NULL
    );
    CREATE INDEX placements_account ON placements (account_id);
    "#,
    // 5: what a plan observed of a home's sessions (visibility problems, trash, threads),
    // keyed by a fingerprint of the files it depends on: a plan with nothing changed does no
    // per-thread work.
    r#"
    CREATE TABLE session_obs (
        home  TEXT PRIMARY KEY,
        key   TEXT NOT NULL,
        obs   TEXT NOT NULL
    );
    "#,
    // 6: the sync client (SPEC 8): per target its server, user, device, token, sync key and
    // cursor; per record what was last synced (version, fingerprint); per account the
    // freshest token ever seen (high-water mark); leases this machine holds.
    r#"
    CREATE TABLE sync_targets (
        name              TEXT PRIMARY KEY,
        server_url        TEXT NOT NULL,
        username          TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        device_name       TEXT NOT NULL,
        token             TEXT,
        token_expires_at  INTEGER,
        sync_key          BLOB,
        key_id            TEXT,
        revision          INTEGER NOT NULL DEFAULT 0,
        last_pull_at      INTEGER,
        last_push_at      INTEGER,
        created_at        INTEGER NOT NULL
    );

    CREATE TABLE sync_records (
        target       TEXT NOT NULL REFERENCES sync_targets (name) ON DELETE CASCADE,
        record_id    TEXT NOT NULL,
        account_id   TEXT NOT NULL,
        version      INTEGER NOT NULL,
        deleted      INTEGER NOT NULL DEFAULT 0,
        fingerprint  TEXT,
        synced_at    INTEGER NOT NULL,
        PRIMARY KEY (target, record_id)
    );
    CREATE INDEX sync_records_account ON sync_records (target, account_id);

    CREATE TABLE sync_high_water (
        account_id    TEXT PRIMARY KEY,
        issued_at     INTEGER,
        last_refresh  TEXT,
        expires_at    INTEGER,
        updated_at    INTEGER NOT NULL
    );

    CREATE TABLE sync_leases (
        target      TEXT NOT NULL REFERENCES sync_targets (name) ON DELETE CASCADE,
        record_id   TEXT NOT NULL,
        account_id  TEXT NOT NULL,
        until       INTEGER NOT NULL,
        PRIMARY KEY (target, record_id)
    );
    "#,
    // 7: members of a login's auth.json that cdxs does not model (Codex 0.164's
    // `tokens.login_owner_id` and `tokens.oauth_provenance`, whatever comes later), kept
    // verbatim as JSON `{"tokens": {...}, "top": {...}}` so every copy carries them.
    r#"
    ALTER TABLE accounts ADD COLUMN auth_extra TEXT;
    "#,
    // 8: threads a generation copied into a home (`session sync-threads`, `share_threads`),
    // so that `rollback` can take them out again: the home, the thread, the copied rollout
    // and its size and mtime right after the copy (a copy Codex continued since is kept).
    r#"
    CREATE TABLE journal_threads (
        generation  INTEGER NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        home        TEXT NOT NULL,
        thread_id   TEXT NOT NULL,
        rollout     TEXT NOT NULL,
        size        INTEGER,
        mtime_ns    INTEGER
    );
    CREATE INDEX journal_threads_generation ON journal_threads (generation);
    "#,
    // 9: placements across machines (SPEC 12). The home a placement is declared as (for
    // the person on another machine: "home `work` on machine `laptop-a`"), and where the
    // other machines say a login is live, as the last pulled record of the account said
    // (one row per device and folder; this machine's own rows are never stored here).
    r#"
    ALTER TABLE placements ADD COLUMN home TEXT;

    CREATE TABLE remote_placements (
        account_id   TEXT NOT NULL,
        device_id    TEXT NOT NULL,
        device_name  TEXT NOT NULL,
        folder       TEXT NOT NULL,
        home         TEXT,
        PRIMARY KEY (account_id, device_id, folder)
    );
    "#,
];
