#!/usr/bin/env python3
"""Ask the real Codex how many threads a home has: `codex app-server` (stdio JSON-RPC),
initialize, then `thread/list` paged through `nextCursor` as its clients do. Prints the
count. Listing writes to Codex's DB (read-repair), so run it on a copy of a home.

  CODEX_HOME=... scripts/codex_thread_list.py CODEX_BIN [--db-only] [--page 50]
"""
import json, subprocess, sys

codex = sys.argv[1]
db_only = "--db-only" in sys.argv
page = int(sys.argv[sys.argv.index("--page") + 1]) if "--page" in sys.argv else 50
p = subprocess.Popen([codex, "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, text=True, bufsize=1)

def call(i, method, params):
    p.stdin.write(json.dumps({"id": i, "method": method, "params": params}) + "\n")
    p.stdin.flush()
    for line in p.stdout:
        msg = json.loads(line)
        if msg.get("id") == i:
            return msg

call(1, "initialize", {"clientInfo": {"name": "cdxs_bench", "title": None, "version": "0"},
                       "capabilities": {"experimentalApi": False, "requestAttestation": False}})
p.stdin.write(json.dumps({"method": "initialized"}) + "\n")
p.stdin.flush()
count, cursor, i = 0, None, 2
while True:
    params = {"sourceKinds": ["cli", "vscode", "exec", "appServer"], "limit": page}
    if cursor:
        params["cursor"] = cursor
    if db_only:
        params["useStateDbOnly"] = True
    r = call(i, "thread/list", params)["result"]
    count += len(r["data"])
    cursor = r.get("nextCursor")
    i += 1
    if not cursor:
        break
p.stdin.close()
p.wait()
print(count)
