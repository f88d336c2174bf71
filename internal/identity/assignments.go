package identity

import (
	"context"
	"sort"
)

// RoleAssignmentQuery is GET /v3/role_assignments's filters.
type RoleAssignmentQuery struct {
	UserID, GroupID, RoleID string
	ProjectID, DomainID     string
	System                  bool
	// InheritedOnly is scope.OS-INHERIT:inherited_to=projects.
	InheritedOnly  bool
	Effective      bool
	IncludeSubtree bool
}

// RoleAssignment is one listed assignment. For effective listings, Group
// names the group it came through, PriorRoleID the role that implied it,
// and InheritedFrom the target an inherited assignment was made on.
type RoleAssignment struct {
	Assignment
	ViaGroupID    string
	PriorRoleID   string
	InheritedFrom string
	// AssignedRoleID is the role of the stored assignment an implied role
	// came from (keystone links that assignment).
	AssignedRoleID string
}

// ListRoleAssignments answers GET /v3/role_assignments. Without effective
// it lists the assignments as stored; with it, group assignments become
// their members' assignments, inherited ones are applied to the projects
// below their target, and implied roles are added — what keystone computes.
func (s *Service) ListRoleAssignments(ctx context.Context, q RoleAssignmentQuery) ([]RoleAssignment, error) {
	// Which targets match the scope filter.
	var targets map[string]bool
	if q.ProjectID != "" {
		targets = map[string]bool{q.ProjectID: true}
		if q.IncludeSubtree {
			p, err := s.store.GetProject(ctx, q.ProjectID)
			if err != nil {
				return nil, err
			}
			sub, err := s.Subtree(ctx, p)
			if err != nil {
				return nil, err
			}
			for _, c := range sub {
				targets[c.ID] = true
			}
		}
	} else if q.DomainID != "" {
		targets = map[string]bool{q.DomainID: true}
	} else if q.System {
		targets = map[string]bool{SystemTarget: true}
	}
	all, err := s.store.ListAssignments(ctx, AssignmentFilter{})
	if err != nil {
		return nil, err
	}
	var out []RoleAssignment
	if !q.Effective {
		for _, a := range all {
			if q.InheritedOnly && !a.Inherited {
				continue
			}
			out = append(out, RoleAssignment{Assignment: a})
		}
	} else {
		out, err = s.effective(ctx, all)
		if err != nil {
			return nil, err
		}
	}
	kept := out[:0]
	for _, a := range out {
		isUser := a.Type == UserProject || a.Type == UserDomain || a.Type == UserSystem
		switch {
		case q.UserID != "" && (!isUser || a.ActorID != q.UserID):
			continue
		case q.GroupID != "" && (isUser || a.ActorID != q.GroupID) && a.ViaGroupID != q.GroupID:
			continue
		case q.RoleID != "" && a.RoleID != q.RoleID:
			continue
		case targets != nil && !targets[a.TargetID]:
			continue
		case q.ProjectID != "" && a.Type != UserProject && a.Type != GroupProject:
			continue
		case q.DomainID != "" && a.Type != UserDomain && a.Type != GroupDomain:
			continue
		case q.System && a.Type != UserSystem && a.Type != GroupSystem:
			continue
		}
		kept = append(kept, a)
	}
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.ActorID != b.ActorID {
			return a.ActorID < b.ActorID
		}
		if a.TargetID != b.TargetID {
			return a.TargetID < b.TargetID
		}
		return a.RoleID < b.RoleID
	})
	return kept, nil
}

// effective expands stored assignments into the user assignments they
// amount to.
func (s *Service) effective(ctx context.Context, all []Assignment) ([]RoleAssignment, error) {
	memberCache := map[string][]*User{}
	members := func(groupID string) ([]*User, error) {
		if m, ok := memberCache[groupID]; ok {
			return m, nil
		}
		m, err := s.store.ListUsers(ctx, UserFilter{GroupID: groupID})
		memberCache[groupID] = m
		return m, err
	}
	subtreeCache := map[string][]*Project{}
	below := func(targetID string) ([]*Project, error) {
		if sub, ok := subtreeCache[targetID]; ok {
			return sub, nil
		}
		p, err := s.store.GetProject(ctx, targetID)
		if err != nil {
			subtreeCache[targetID] = nil
			return nil, nil
		}
		sub, err := s.Subtree(ctx, p)
		subtreeCache[targetID] = sub
		return sub, err
	}
	implied, err := s.store.ImpliedRoles(ctx)
	if err != nil {
		return nil, err
	}
	var stage1 []RoleAssignment
	for _, a := range all {
		// Apply inheritance: the assignment lands on every project below.
		var placed []RoleAssignment
		if a.Inherited {
			sub, err := below(a.TargetID)
			if err != nil {
				return nil, err
			}
			for _, p := range sub {
				typ := UserProject
				if a.Type == GroupDomain || a.Type == GroupProject {
					typ = GroupProject
				}
				placed = append(placed, RoleAssignment{Assignment: Assignment{Type: typ, ActorID: a.ActorID, TargetID: p.ID, RoleID: a.RoleID}, InheritedFrom: a.TargetID})
			}
		} else {
			placed = []RoleAssignment{{Assignment: a}}
		}
		// Expand groups into their members.
		for _, pa := range placed {
			switch pa.Type {
			case GroupProject, GroupDomain, GroupSystem:
				ms, err := members(pa.ActorID)
				if err != nil {
					return nil, err
				}
				typ := map[string]string{GroupProject: UserProject, GroupDomain: UserDomain, GroupSystem: UserSystem}[pa.Type]
				for _, u := range ms {
					x := pa
					x.Type, x.ActorID, x.ViaGroupID = typ, u.ID, pa.ActorID
					stage1 = append(stage1, x)
				}
			default:
				stage1 = append(stage1, pa)
			}
		}
	}
	// Add implied roles, and drop duplicates.
	seen := map[string]bool{}
	var out []RoleAssignment
	for _, a := range stage1 {
		a.AssignedRoleID = a.RoleID
		queue := []RoleAssignment{a}
		for len(queue) > 0 {
			x := queue[0]
			queue = queue[1:]
			key := x.Type + "\x00" + x.ActorID + "\x00" + x.TargetID + "\x00" + x.RoleID + "\x00" + x.ViaGroupID + "\x00" + x.InheritedFrom
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, x)
			for _, im := range implied[x.RoleID] {
				y := x
				y.RoleID, y.PriorRoleID = im, x.RoleID
				queue = append(queue, y)
			}
		}
	}
	return out, nil
}
