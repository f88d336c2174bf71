package imageapi

// Rules are glance's secure-RBAC defaults (glance/policies), under glance's
// names so a policy file written for glance overrides them. The helper
// rules carry an image_ prefix: rule names are shared by all services.
// Targets: project_id is the image owner, visibility the image's,
// member_id the caller's project when it is a member of the image.
var Rules = map[string]string{
	"image_admin":          "role:admin",
	"image_project_member": "role:member and project_id:%(project_id)s",
	"image_project_reader": "role:reader and project_id:%(project_id)s",
	"image_member_reader":  "role:reader and project_id:%(member_id)s",
	"image_open":           "'public':%(visibility)s or 'community':%(visibility)s",
	"image_owner_or_admin": "rule:image_admin or rule:image_project_member",

	"get_image":         "rule:image_admin or rule:image_project_reader or rule:image_member_reader or (role:reader and rule:image_open)",
	"get_images":        "rule:image_admin or rule:image_project_reader",
	"add_image":         "rule:image_owner_or_admin",
	"modify_image":      "rule:image_owner_or_admin",
	"delete_image":      "rule:image_owner_or_admin",
	"publicize_image":   "rule:image_admin",
	"communitize_image": "rule:image_owner_or_admin",
	"upload_image":      "rule:image_owner_or_admin",
	"download_image":    "rule:image_admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or rule:image_open))",
	"stage_image":       "rule:image_owner_or_admin",
	"import_image":      "rule:image_owner_or_admin",
	"deactivate":        "rule:image_owner_or_admin",
	"reactivate":        "rule:image_owner_or_admin",
	"add_member":        "rule:image_owner_or_admin",
	"delete_member":     "rule:image_owner_or_admin",
	"get_member":        "rule:image_admin or rule:image_project_reader or rule:image_member_reader",
	"get_members":       "rule:image_admin or rule:image_project_reader or rule:image_member_reader",
	"modify_member":     "rule:image_admin or (role:member and project_id:%(member_id)s)",
	"get_task":          "rule:image_admin or rule:image_project_reader",
	"get_tasks":         "rule:image_admin or rule:image_project_reader",
	"image_info":        "",
}
