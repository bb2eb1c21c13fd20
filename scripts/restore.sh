#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a PostgreSQL database, then check that
# the restored schema is the one this checkout's migrations end at.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/restore.sh DUMP_FILE TARGET_DATABASE_URL

Restores DUMP_FILE (from scripts/backup.sh) into the existing database TARGET_DATABASE_URL
(a SQLAlchemy URL, postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB, or a libpq URL) with
pg_restore --clean --if-exists --no-owner in a single transaction: the tables of the
backup replace those of the same name in the target, and on any error nothing changes.
The target is named on the command line, never taken from DATABASE_URL, so that a
restore cannot overwrite the live database by accident.

Then compares the restored alembic_version with the head of this checkout's migrations:
  exit 0  restored, schema at the migrations' head
  exit 3  restored, schema at another revision: run `flask --app wsgi db upgrade` against
          it (an older backup), or restore with the code that made the backup
  exit 1  the restore failed (nothing changed); exit 2  bad arguments
EOF
}

# die, to_libpq_url
source "$(dirname "${BASH_SOURCE[0]}")/postgres-url.sh"

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
esac
[[ $# -eq 2 ]] || { usage >&2; exit 2; }
dump=$1
[[ -f $dump && -r $dump ]] || die "cannot read $dump"
command -v pg_restore >/dev/null || die "pg_restore not found (Debian: apt-get install postgresql-client)"
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"
pg_restore --list "$dump" >/dev/null 2>&1 || die "$dump is not a pg_dump archive (custom format)"
to_libpq_url "$2"

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
[[ -x $python ]] || python=python3

echo "restoring $dump into ${LIBPQ_URL%%\?*}" >&2
if ! pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
        --exit-on-error --no-password --dbname="$LIBPQ_URL" "$dump"; then
    echo "restore.sh: pg_restore failed; the target database is unchanged" >&2
    exit 1
fi

restored=$(psql --no-psqlrc --no-password --quiet --tuples-only --no-align \
    --dbname="$LIBPQ_URL" --command='SELECT version_num FROM alembic_version ORDER BY 1') ||
    { echo "restore.sh: restored, but the database has no alembic_version table" >&2; exit 3; }
# The migrations' head(s), read from the files alone (no app settings needed).
expected=$(cd -- "$root" && "$python" -c '
from alembic.script import ScriptDirectory
print("\n".join(sorted(ScriptDirectory("migrations").get_heads())))')

if [[ $restored != "$expected" ]]; then
    echo "restore.sh: restored, but the schema is at revision '${restored//$'\n'/ }' and this" \
        "checkout's migrations end at '${expected//$'\n'/ }'; for an older backup run" \
        "DATABASE_URL=<target> flask --app wsgi db upgrade" >&2
    exit 3
fi
echo "restored; schema at the migrations' head ($expected)"
