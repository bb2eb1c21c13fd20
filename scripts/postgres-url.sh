# What scripts/backup.sh and scripts/restore.sh share; sourced, not run.

die() {
    echo "${0##*/}: $*" >&2
    exit 2
}

# Sets LIBPQ_URL to the SQLAlchemy URL $1 without its driver name (postgresql+psycopg://
# is SQLAlchemy's, libpq wants postgresql://), and moves a password to PGPASSWORD so that
# it does not show in the process list.
to_libpq_url() {
    local url=$1 scheme rest userinfo password
    case "$url" in
        postgresql+*://* | postgresql://* | postgres://*) ;;
        *) die "not a PostgreSQL URL: ${url%%://*}://… (SQLite: copy the file with sqlite3's .backup)" ;;
    esac
    scheme=${url%%://*}
    scheme=${scheme%%+*}
    rest=${url#*://}
    userinfo=${rest%%@*}
    if [[ $rest == *@* && $userinfo != */* && $userinfo != *\?* && $userinfo == *:* ]]; then
        # Percent-decoded as libpq would (%40 is @).
        password=${userinfo#*:}
        password=${password//\\/\\\\}
        PGPASSWORD=$(printf '%b' "${password//%/\\x}")
        if [[ -n $PGPASSWORD ]]; then export PGPASSWORD; else unset PGPASSWORD; fi
        rest="${userinfo%%:*}@${rest#*@}"
    fi
    LIBPQ_URL="$scheme://$rest"
}
