package identityapi

// Rules are keystone's secure-RBAC defaults (keystone/common/policies),
// in the same check language, so they can be compared and overridden by
// name. Targets use keystone's names (target.user.domain_id, ...).
var Rules = map[string]string{
	"admin_required":   "role:admin",
	"service_role":     "role:service",
	"system_reader":    "role:reader and system_scope:all",
	"system_admin":     "role:admin and system_scope:all",
	"domain_reader":    "role:reader and domain_id:%(target.domain_id)s",
	"domain_admin":     "role:admin and domain_id:%(target.domain_id)s",
	"owner":            "user_id:%(user_id)s",
	"token_subject":    "user_id:%(target.token.user_id)s",
	"service_or_admin": "rule:admin_required or rule:service_role",

	"identity:validate_token":    "rule:service_or_admin or rule:token_subject or rule:system_reader",
	"identity:check_token":       "rule:service_or_admin or rule:token_subject or rule:system_reader",
	"identity:revoke_token":      "rule:service_or_admin or rule:token_subject or rule:system_admin",
	"identity:get_auth_catalog":  "",
	"identity:get_auth_projects": "",
	"identity:get_auth_domains":  "",
	"identity:get_auth_system":   "",
}
