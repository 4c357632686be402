#!/bin/sh
# One database per service (each service owns its schema): mlp_intake, mlp_catalog, mlp_matcher,
# mlp_notifier. Run once by the postgres image on an empty volume (/docker-entrypoint-initdb.d).
set -eu
for service in intake catalog matcher notifier; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE DATABASE mlp_${service} OWNER \"$POSTGRES_USER\";"
done
