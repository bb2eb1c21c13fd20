#!/usr/bin/env bash
# Back up the PostgreSQL database of DATABASE_URL with pg_dump (custom format) into a
# timestamped file, then delete this script's backups older than DAYS days.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB scripts/backup.sh DIRECTORY [DAYS]

Writes DIRECTORY/membership-YYYYMMDDTHHMMSSZ.dump (pg_dump --format=custom, readable by
its owner only) and prints its path. After a good backup, deletes the membership-*.dump
files in DIRECTORY older than DAYS days (default 14); a failed backup deletes nothing.
DATABASE_URL is the app's setting (the SQLAlchemy URL); the password is handed to
pg_dump through PGPASSWORD, not on its command line. Restore with scripts/restore.sh.
EOF
}

# die, to_libpq_url
source "$(dirname "${BASH_SOURCE[0]}")/postgres-url.sh"

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac
[[ $# -le 2 ]] || { usage >&2; exit 2; }
directory=$1
days=${2:-14}
[[ $days =~ ^[1-9][0-9]*$ ]] || die "DAYS must be a whole number of days, at least 1 (not '$days')"
[[ -n ${DATABASE_URL:-} ]] || die "DATABASE_URL is not set"
to_libpq_url "$DATABASE_URL"
[[ -d $directory ]] || die "no such directory: $directory"
command -v pg_dump >/dev/null || die "pg_dump not found (Debian: apt-get install postgresql-client)"

umask 077  # the dump holds readers' personal data
target="$directory/membership-$(date -u +%Y%m%dT%H%M%SZ).dump"
[[ ! -e $target ]] || die "$target already exists"
partial="$target.partial"
trap 'rm -f -- "$partial"' EXIT

pg_dump --format=custom --no-password --file="$partial" --dbname="$LIBPQ_URL"
# A dump that pg_restore cannot list is no backup.
pg_restore --list "$partial" >/dev/null
mv -- "$partial" "$target"
echo "$target"

find "$directory" -maxdepth 1 -type f -name 'membership-*.dump' \
    -mmin "+$((days * 24 * 60))" -print -delete |
    sed 's/^/deleted (older than '"$days"' days): /' >&2
