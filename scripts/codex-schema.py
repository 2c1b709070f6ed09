#!/usr/bin/env python3
"""Print what cdxs checks of a Codex database, in the format of src/codex/schema/*.txt.

    scripts/codex-schema.py CODEX_HOME/state_5.sqlite > src/codex/schema/state_5-64.txt

When a new Codex release lands: make a home with it (`codex exec` once, and a thread
read or resumed so that thread_history_1 migrates too), dump both databases with this
script, add the files and the release to `RELEASES` in src/codex/schema.rs, and the
version to scripts/install-codex.sh and tests/it/harness.rs. The real-Codex tests then
check that cdxs reads the same structure from the live databases.
"""
import sqlite3
import sys

# Columns that tie a row to a thread (cdxs saves, removes, restores and copies such rows
# with their thread); also any table with a foreign key to `threads`.
LINKS = ("thread_id", "session_id", "parent_thread_id", "child_thread_id")


def column(row):
    _cid, name, typ, notnull, default, pk = row
    spec = f"{name} {typ}".rstrip()
    if notnull:
        spec += " NOT NULL"
    if default is not None:
        spec += f" DEFAULT {default}"
    if pk:
        spec += f" PK{pk}"
    return spec


def main(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    print(f"# {path.rsplit('/', 1)[-1]}: the migrations, and the tables that hang off a thread")
    for version, description in db.execute(
        "SELECT version, description FROM _sqlx_migrations ORDER BY version"
    ):
        print(f"migration {version} {description}")
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> '_sqlx_migrations' ORDER BY name"
        )
    ]
    for t in tables:
        cols = list(db.execute(f'PRAGMA table_info("{t}")'))
        fks = list(db.execute(f'PRAGMA foreign_key_list("{t}")'))
        if t == "threads" or any(c[1] in LINKS for c in cols) or any(f[2] == "threads" for f in fks):
            print(f"table {t}")
            for c in cols:
                print(f"  {column(c)}")


if __name__ == "__main__":
    main(sys.argv[1])
