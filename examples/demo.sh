#!/usr/bin/env bash
# The main job on the embedded SQLite default: import the sample region, then show how
# record matching decides for a few people, link one, and read the audit trail.
set -euo pipefail
cd "$(dirname "$0")/.."
db_file="${1:-build/demo-cli.db}"
mkdir -p "$(dirname "$db_file")"
rm -f "$db_file" "$db_file-wal" "$db_file-shm" "$db_file.key"
export SSO_BRIDGE_DB="sqlite:///$db_file"
cli=".venv/bin/sso-bridge"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say sso-bridge accounts import examples/data/*.csv
"$cli" accounts import examples/data/*.csv

for who in smirnova kuznetsova sokolov novikov fedorov smirnova-unverified stranger; do
    say sso-bridge match --explain examples/identities/$who.json
    "$cli" match --explain "examples/identities/$who.json"
done

say sso-bridge match --json examples/identities/kuznetsova.json
"$cli" match --json examples/identities/kuznetsova.json

say sso-bridge match --apply examples/identities/kuznetsova.json
"$cli" match --apply examples/identities/kuznetsova.json

say sso-bridge match --apply --account g5-p-101 examples/identities/smirnova.json
"$cli" match --apply --account g5-p-101 examples/identities/smirnova.json

say sso-bridge links list
"$cli" links list

say sso-bridge accounts show g5-p-101
"$cli" accounts show g5-p-101

say sso-bridge audit tail
"$cli" audit tail

printf '\nThe demo database is %s (key in %s.key).\n' "$db_file" "$db_file"
