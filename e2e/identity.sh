#!/bin/bash
# End-to-end test of the identity service with Debian's openstack CLI
# (python3-openstackclient) against a real `gureum server`.
#
#   e2e/identity.sh path/to/gureum
#
# Starts the server on a free loopback port with a temporary data
# directory, drives it with `openstack`, and always stops it and removes
# the directory. Exits non-zero when any check fails.
set -euo pipefail

source "$(dirname "$0")/lib.bash"
e2e_start "${1:-}"


# Tokens.
check "token issue" os token issue -f value -c id
TOKEN=$LAST
check "token is a Fernet token" test -n "$TOKEN"
check "catalog list shows identity" os catalog list -f value -c Type
check "catalog has identity" contains identity
check "token revoke" os token revoke "$TOKEN"
check "revoked token is refused" bash -c "! curl -fsS -o /dev/null -H 'X-Auth-Token: $TOKEN' $URL/identity/v3/auth/catalog"

# Key rotation with the admin command while the server runs: a token from
# before one rotation still validates; after max_active_keys (3) rotations
# its key is gone and it does not (the server reloads keys every second).
valid() { curl -fsS -o /dev/null -H "X-Auth-Token: $1" -H "X-Subject-Token: $1" "$URL/identity/v3/auth/tokens"; }
check "token issue before rotation" os token issue -f value -c id
OLD=$LAST
check "admin rotate-keys" "$BIN" admin rotate-keys --config "$WORK/gureum.yaml" --data-dir "$WORK/data"
sleep 1.2
check "token from before the rotation validates" valid "$OLD"
for i in 1 2 3; do
	check "admin rotate-keys $i" "$BIN" admin rotate-keys --config "$WORK/gureum.yaml" --data-dir "$WORK/data"
done
refused() { for _ in $(seq 1 50); do valid "$1" || return 0; sleep 0.2; done; return 1; }
check "token refused after max_active_keys rotations" refused "$OLD"
check "new tokens after rotations" os token issue -f value -c id

# Domains.
check "domain create" os domain create -f value -c id "e2e-dom-$S"
DOM=$LAST
check "domain list" os domain list -f value -c Name
check "domain listed" contains "e2e-dom-$S"
check "domain show" os domain show -f value -c name "$DOM"

# Projects.
check "project create" os project create -f value -c id --domain "$DOM" --description "e2e" --tag t1 "e2e-proj-$S"
PROJ=$LAST
check "project create child" os project create -f value -c id --domain "$DOM" --parent "$PROJ" "e2e-child-$S"
CHILD=$LAST
check "project list --domain" os project list -f value -c Name --domain "$DOM"
check "project listed" contains "e2e-proj-$S"
check "project list --tags" os project list -f value -c Name --tags t1
check "tagged project listed" contains "e2e-proj-$S"
check "project set" os project set --description changed "$PROJ"
check "project show" os project show -f value -c description "$PROJ"
check "project description changed" contains changed
expect_fail "project duplicate refused" os project create --domain "$DOM" "e2e-proj-$S"

# Users and groups.
check "user create" os user create -f value -c id --domain "$DOM" --password "pw-$S-secret" --project "$PROJ" "e2e-user-$S"
USR=$LAST
check "user list --domain" os user list -f value -c Name --domain "$DOM"
check "user listed" contains "e2e-user-$S"
check "user set" os user set --email "e2e@example.org" "$USR"
check "user show has extra attribute" os user show -f value -c email "$USR"
check "email kept" contains "e2e@example.org"
check "group create" os group create -f value -c id --domain "$DOM" "e2e-group-$S"
GRP=$LAST
check "group add user" os group add user "$GRP" "$USR"
check "group contains user" os group contains user "$GRP" "$USR"
check "group list --user" os group list -f value -c Name --user "$USR"
check "group listed for user" contains "e2e-group-$S"

# Roles and assignments.
check "role create" os role create -f value -c id "e2e-role-$S"
ROLE=$LAST
check "role list" os role list -f value -c Name
check "role listed" contains "e2e-role-$S"
check "role add user on project" os role add --user "$USR" --project "$PROJ" member
check "role add group on project" os role add --group "$GRP" --project "$PROJ" "e2e-role-$S"
check "role add user on domain" os role add --user "$USR" --domain "$DOM" reader
check "role assignment list --names" os role assignment list --names --project "$PROJ"
check "assignment shows user name" contains "e2e-user-$S@e2e-dom-$S"
check "assignment shows group name" contains "e2e-group-$S@e2e-dom-$S"
check "role assignment list --effective" os role assignment list --effective --user "$USR" -f value -c Role
check "effective includes implied reader" contains "$(os role show -f value -c id reader)"
check "role remove group" os role remove --group "$GRP" --project "$PROJ" "e2e-role-$S"
check "role assignment list after remove" os role assignment list --project "$PROJ" -f value -c Group
check "group assignment gone" bash -c "! grep -q '$GRP' <<<'$LAST'"

# The new user logs in, scoped to its project.
USER_ENV=(env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_IDENTITY_API_VERSION=3
	OS_USERNAME="e2e-user-$S" OS_PASSWORD="pw-$S-secret" OS_USER_DOMAIN_ID="$DOM"
	OS_PROJECT_ID="$PROJ")
check "user token issue" "${USER_ENV[@]}" openstack token issue -f value -c project_id
check "user token is project scoped" contains "$PROJ"
expect_fail "member cannot list users" "${USER_ENV[@]}" openstack user list
expect_fail "member cannot create roles" "${USER_ENV[@]}" openstack role create "nope-$S"

# Application credentials: create as the user, then log in with it.
check "application credential create" "${USER_ENV[@]}" openstack application credential create -f shell -c id -c secret "e2e-ac-$S"
AC_id=$(sed -n 's/^id="\(.*\)"$/\1/p' <<<"$LAST")
AC_secret=$(sed -n 's/^secret="\(.*\)"$/\1/p' <<<"$LAST")
check "application credential list" "${USER_ENV[@]}" openstack application credential list -f value -c Name
check "application credential listed" contains "e2e-ac-$S"
AC_ENV=(env -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$URL/identity/v3" OS_IDENTITY_API_VERSION=3
	OS_AUTH_TYPE=v3applicationcredential OS_APPLICATION_CREDENTIAL_ID="${AC_id:-}"
	OS_APPLICATION_CREDENTIAL_SECRET="${AC_secret:-}")
check "token issue with application credential" "${AC_ENV[@]}" openstack token issue -f value -c project_id
check "app credential token is scoped to the project" contains "$PROJ"
check "application credential delete" "${USER_ENV[@]}" openstack application credential delete "e2e-ac-$S"
expect_fail "deleted application credential refused" "${AC_ENV[@]}" openstack token issue

# The user changes its own password: its tokens stop working at once.
check "user token before password change" "${USER_ENV[@]}" openstack token issue -f value -c id
UTOK=$LAST
check "user password set" "${USER_ENV[@]}" openstack user password set --original-password "pw-$S-secret" --password "pw-$S-new"
check "token from before the change refused" bash -c "! curl -fsS -o /dev/null -H 'X-Auth-Token: $UTOK' -H 'X-Subject-Token: $UTOK' $URL/identity/v3/auth/tokens"
expect_fail "old password refused" "${USER_ENV[@]}" openstack token issue
check "new password works" "${USER_ENV[@]}" OS_PASSWORD="pw-$S-new" openstack token issue -f value -c id

# Catalog resources.
check "region create" os region create "e2e-region-$S"
check "service create" os service create -f value -c id --name "e2e-svc-$S" "e2e-type-$S"
SVC=$LAST
check "endpoint create" os endpoint create -f value -c id --region "e2e-region-$S" "$SVC" public "http://example.invalid/$S"
EP=$LAST
check "endpoint list" os endpoint list -f value -c ID --service "$SVC"
check "endpoint listed" contains "$EP"
check "endpoint delete" os endpoint delete "$EP"
check "service delete" os service delete "$SVC"
check "region delete" os region delete "e2e-region-$S"

# Deletes.
check "role remove user on project" os role remove --user "$USR" --project "$PROJ" member
check "role delete" os role delete "e2e-role-$S"
check "group remove user" os group remove user "$GRP" "$USR"
check "group delete" os group delete "$GRP"
check "user delete" os user delete "$USR"
check "project delete child" os project delete "$CHILD"
check "project delete" os project delete "$PROJ"
expect_fail "enabled domain delete refused" os domain delete "$DOM"
check "domain disable" os domain set --disable "$DOM"
check "domain delete" os domain delete "$DOM"
check "domain gone" bash -c "! openstack domain show '$DOM' >/dev/null 2>&1"

# No secret reached the log.
check "no password in server log" bash -c "! grep -q 'pw-$S-secret' '$WORK/server.log'"
if [ -n "${AC_secret:-}" ]; then
	check "no app credential secret in server log" bash -c "! grep -qF -- '${AC_secret}' '$WORK/server.log'"
fi

e2e_finish identity
