#!/bin/sh
# Runs once, when the postgres service first creates its data volume (docker-entrypoint-initdb.d).
# Creates the role the web, worker and beat services connect as: it reads and writes rows but owns no
# table, so it can't drop or disable the ledger's append-only triggers, truncate the ledger or alter the
# schema. Migrations run as the owner ($POSTGRES_USER) in the one-shot migrate service.
set -eu
psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set owner="$POSTGRES_USER" --set app_role=provenant_app --set app_password="$PROVENANT_APP_DB_PASSWORD" \
  --file /docker-entrypoint-initdb.d/app-role.psql
