#!/bin/sh
# Print the secrets of the reference deployment as an environment file (portal.env):
#   sh deploy/make-env.sh > deploy/portal.env && chmod 600 deploy/portal.env
# Run it once: the blind-index key (SSO_BRIDGE_KEY) must stay the same for the life of the
# database, and the broker secret (PORTAL_SECRET) the same on every instance.
set -eu
umask 077
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
password=$(hex 24)
cat <<END
# the database password, for the postgres image and for libpq (the portal, the seed step)
POSTGRES_PASSWORD=$password
PGPASSWORD=$password
# the blind-index key of the store: back it up with the database, never change it
SSO_BRIDGE_KEY=$(hex 32)
# the broker secret (sessions, CSRF tokens, one-time codes), the same on every instance
PORTAL_SECRET=$(hex 32)
# the mock IdP's /outbox and /admin/* token
MOCK_IDP_ADMIN_TOKEN=$(hex 16)
END
