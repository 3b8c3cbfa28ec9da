#!/usr/bin/env bash
# Dump one SmartPay PostgreSQL database (the ledger `smartpay`, the MLflow registry
# `mlflow`) to a custom-format archive, then check the archive reads back.
#   infra/backup/pg_backup.sh DATABASE_URL OUT.dump
# DATABASE_URL may be a SQLAlchemy URL (postgresql+psycopg://...): the driver suffix is
# dropped. A consistent snapshot: pg_dump runs in one repeatable-read transaction, so
# payments written during the dump are either wholly in it or not at all.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DATABASE_URL OUT.dump" >&2; exit 64; }
url="${1/postgresql+*:\/\//postgresql://}"
out="$2"
tmp="$out.partial"
pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$tmp" "$url"
pg_restore --list "$tmp" >/dev/null  # a truncated or corrupt archive fails here
mv "$tmp" "$out"  # never leave a half-written file under the final name
echo "backup: $(du -h "$out" | cut -f1) written to $out"
