#!/usr/bin/env bash
# Restore an archive written by pg_backup.sh into an EMPTY database (create it first:
# `createdb smartpay_restored`). All or nothing: one transaction, stop at the first error.
#   infra/backup/pg_restore.sh IN.dump DATABASE_URL
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IN.dump DATABASE_URL" >&2; exit 64; }
dump="$1"
url="${2/postgresql+*:\/\//postgresql://}"
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname="$url" "$dump"
echo "restore: $dump restored into ${url##*/}"
