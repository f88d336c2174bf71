package identityapi

// Rules are keystone's secure-RBAC defaults (keystone/common/policies),
// in the same check language, so they can be compared and overridden by
// name. Targets use keystone's names (target.user.domain_id, ...); the
// handlers of Deferred routes fill them from the loaded object.
//
// One deliberate difference: keystone's ADMIN_REQUIRED is "role:admin" in
// any scope, so a project admin is a cloud admin. Here a cloud admin is an
// admin with system scope or an admin of the cloud's admin project
// (keystone's is_admin_project), so the admin of an ordinary project
// manages nothing outside it, and a domain admin only its domain.
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

	// Building blocks, prefixed so they cannot collide with other services'
	// rule names in the shared enforcer.
	"identity:cloud_admin":  "(role:admin and system_scope:all) or (role:admin and is_admin_project:True)",
	"identity:cloud_reader": "(role:reader and system_scope:all) or rule:identity:cloud_admin",
	"identity:domain_admin": "role:admin and domain_id:%(target.domain_id)s",
	// A domain reader of the object's domain.
	"identity:domain_reader":     "role:reader and domain_id:%(target.domain_id)s",
	"identity:admin_or_dadmin":   "rule:identity:cloud_admin or rule:identity:domain_admin",
	"identity:reader_or_dreader": "rule:identity:cloud_reader or rule:identity:domain_reader",
	// Grants by a domain admin stay inside its domain: target and actor.
	"identity:domain_grant_admin":  "role:admin and domain_id:%(target.domain_id)s and domain_id:%(target.actor.domain_id)s",
	"identity:domain_grant_reader": "role:reader and domain_id:%(target.domain_id)s",

	// As keystone's current defaults: services, the token's own user, and
	// cloud readers — not the admin of any project.
	"identity:validate_token":    "rule:service_role or rule:token_subject or rule:identity:cloud_reader",
	"identity:check_token":       "rule:service_role or rule:token_subject or rule:identity:cloud_reader",
	"identity:revoke_token":      "rule:service_role or rule:token_subject or rule:identity:cloud_admin",
	"identity:get_auth_catalog":  "",
	"identity:get_auth_projects": "",
	"identity:get_auth_domains":  "",
	"identity:get_auth_system":   "",

	"identity:list_domains":  "rule:identity:cloud_reader",
	"identity:get_domain":    "rule:identity:cloud_reader or domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s",
	"identity:create_domain": "rule:identity:cloud_admin",
	"identity:update_domain": "rule:identity:cloud_admin",
	"identity:delete_domain": "rule:identity:cloud_admin",

	"identity:list_projects":       "rule:identity:reader_or_dreader",
	"identity:get_project":         "rule:identity:reader_or_dreader or project_id:%(target.project.id)s",
	"identity:create_project":      "rule:identity:admin_or_dadmin",
	"identity:update_project":      "rule:identity:admin_or_dadmin",
	"identity:delete_project":      "rule:identity:admin_or_dadmin",
	"identity:list_project_tags":   "rule:identity:reader_or_dreader or project_id:%(target.project.id)s",
	"identity:get_project_tag":     "rule:identity:reader_or_dreader or project_id:%(target.project.id)s",
	"identity:update_project_tags": "rule:identity:admin_or_dadmin or (role:admin and project_id:%(target.project.id)s)",
	"identity:create_project_tag":  "rule:identity:admin_or_dadmin or (role:admin and project_id:%(target.project.id)s)",
	"identity:delete_project_tags": "rule:identity:admin_or_dadmin or (role:admin and project_id:%(target.project.id)s)",
	"identity:delete_project_tag":  "rule:identity:admin_or_dadmin or (role:admin and project_id:%(target.project.id)s)",
	"identity:list_user_projects":  "rule:identity:reader_or_dreader or user_id:%(target.user.id)s",

	"identity:list_users":           "rule:identity:reader_or_dreader",
	"identity:get_user":             "rule:identity:reader_or_dreader or user_id:%(target.user.id)s",
	"identity:create_user":          "rule:identity:admin_or_dadmin",
	"identity:update_user":          "rule:identity:admin_or_dadmin",
	"identity:delete_user":          "rule:identity:admin_or_dadmin",
	"identity:list_groups_for_user": "rule:identity:reader_or_dreader or user_id:%(target.user.id)s",

	"identity:list_groups":            "rule:identity:reader_or_dreader",
	"identity:get_group":              "rule:identity:reader_or_dreader",
	"identity:create_group":           "rule:identity:admin_or_dadmin",
	"identity:update_group":           "rule:identity:admin_or_dadmin",
	"identity:delete_group":           "rule:identity:admin_or_dadmin",
	"identity:list_users_in_group":    "rule:identity:reader_or_dreader",
	"identity:check_user_in_group":    "rule:identity:cloud_reader or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
	"identity:add_user_to_group":      "rule:identity:cloud_admin or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
	"identity:remove_user_from_group": "rule:identity:cloud_admin or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",

	// Roles are readable by domain readers (they need IDs to grant).
	"identity:list_roles":                "rule:identity:reader_or_dreader",
	"identity:get_role":                  "rule:identity:reader_or_dreader",
	"identity:create_role":               "rule:identity:cloud_admin",
	"identity:update_role":               "rule:identity:cloud_admin",
	"identity:delete_role":               "rule:identity:cloud_admin",
	"identity:list_implied_roles":        "rule:identity:cloud_reader",
	"identity:get_implied_role":          "rule:identity:cloud_reader",
	"identity:check_implied_role":        "rule:identity:cloud_reader",
	"identity:create_implied_role":       "rule:identity:cloud_admin",
	"identity:delete_implied_role":       "rule:identity:cloud_admin",
	"identity:list_role_inference_rules": "rule:identity:cloud_reader",
	"identity:list_role_assignments":     "rule:identity:cloud_reader or rule:identity:domain_grant_reader",

	"identity:list_grants":                   "rule:identity:cloud_reader or rule:identity:domain_grant_reader",
	"identity:check_grant":                   "rule:identity:cloud_reader or rule:identity:domain_grant_reader",
	"identity:create_grant":                  "rule:identity:cloud_admin or rule:identity:domain_grant_admin",
	"identity:revoke_grant":                  "rule:identity:cloud_admin or rule:identity:domain_grant_admin",
	"identity:list_inherited_grant":          "rule:identity:cloud_reader or rule:identity:domain_grant_reader",
	"identity:check_inherited_grant":         "rule:identity:cloud_reader or rule:identity:domain_grant_reader",
	"identity:create_inherited_grant":        "rule:identity:cloud_admin or rule:identity:domain_grant_admin",
	"identity:revoke_inherited_grant":        "rule:identity:cloud_admin or rule:identity:domain_grant_admin",
	"identity:list_system_grant_for_actor":   "rule:identity:cloud_reader",
	"identity:check_system_grant_for_actor":  "rule:identity:cloud_reader",
	"identity:create_system_grant_for_actor": "rule:identity:cloud_admin",
	"identity:revoke_system_grant_for_actor": "rule:identity:cloud_admin",

	"identity:list_regions":  "",
	"identity:get_region":    "",
	"identity:create_region": "rule:identity:cloud_admin",
	"identity:update_region": "rule:identity:cloud_admin",
	"identity:delete_region": "rule:identity:cloud_admin",

	"identity:list_services":  "rule:identity:cloud_reader",
	"identity:get_service":    "rule:identity:cloud_reader",
	"identity:create_service": "rule:identity:cloud_admin",
	"identity:update_service": "rule:identity:cloud_admin",
	"identity:delete_service": "rule:identity:cloud_admin",

	"identity:list_endpoints":  "rule:identity:cloud_reader",
	"identity:get_endpoint":    "rule:identity:cloud_reader",
	"identity:create_endpoint": "rule:identity:cloud_admin",
	"identity:update_endpoint": "rule:identity:cloud_admin",
	"identity:delete_endpoint": "rule:identity:cloud_admin",

	// Application credentials belong to their user; readers may look.
	"identity:list_application_credentials":  "rule:identity:cloud_reader or user_id:%(target.user.id)s",
	"identity:get_application_credential":    "rule:identity:cloud_reader or user_id:%(target.user.id)s",
	"identity:create_application_credential": "user_id:%(target.user.id)s",
	"identity:delete_application_credential": "rule:identity:cloud_admin or user_id:%(target.user.id)s",
}
