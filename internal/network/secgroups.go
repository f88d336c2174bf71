package network

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// SecurityGroupSpec is a security group create or update body.
type SecurityGroupSpec struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	ProjectID   *string  `json:"project_id"`
	TenantID    *string  `json:"tenant_id"`
	Stateful    *bool    `json:"stateful"`
	Shared      *bool    `json:"shared"`
	Tags        []string `json:"tags"`
}

// SGRuleSpec is a security group rule create body.
type SGRuleSpec struct {
	SecurityGroupID *string `json:"security_group_id"`
	Description     *string `json:"description"`
	ProjectID       *string `json:"project_id"`
	TenantID        *string `json:"tenant_id"`
	Direction       *string `json:"direction"`
	EtherType       *string `json:"ethertype"`
	Protocol        *string `json:"protocol"`
	PortRangeMin    *int    `json:"port_range_min"`
	PortRangeMax    *int    `json:"port_range_max"`
	RemoteIPPrefix  *string `json:"remote_ip_prefix"`
	RemoteGroupID   *string `json:"remote_group_id"`
	RemoteAGID      *string `json:"remote_address_group_id"`
}

// protocols maps Neutron's protocol names to numbers.
var protocols = map[string]int{
	"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4,
	"ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
	"ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}

var portProtocols = map[int]bool{6: true, 17: true, 132: true, 33: true, 136: true}

// EnsureDefaultSecurityGroup creates the project's default group on first
// use.
func (s *Service) EnsureDefaultSecurityGroup(ctx context.Context, project string) error {
	if project == "" {
		return nil
	}
	if id, err := s.store.Read().DefaultSecurityGroup(ctx, project); err != nil || id != "" {
		return err
	}
	return s.store.Tx(ctx, func(o Ops) error {
		_, err := s.ensureDefaultSG(ctx, o, project)
		return err
	})
}

// ensureDefaultSG returns the project's default group, creating it with
// Neutron's default rules (all egress; ingress from the group itself).
func (s *Service) ensureDefaultSG(ctx context.Context, o Ops, project string) (string, error) {
	id, err := o.DefaultSecurityGroup(ctx, project)
	if err != nil || id != "" {
		return id, err
	}
	name, desc := "default", "Default security group"
	sg := &SecurityGroup{Std: s.newStd(ids.UUID(), project, &name, &desc), Stateful: true}
	got, created, err := o.ClaimDefaultSecurityGroup(ctx, project, sg.ID)
	if err != nil || !created {
		return got, err
	}
	if err := insert(ctx, o, sg); err != nil {
		return "", err
	}
	for _, r := range []struct{ dir, eth string }{{"egress", "IPv4"}, {"egress", "IPv6"}, {"ingress", "IPv4"}, {"ingress", "IPv6"}} {
		rule := s.newRule(sg, r.dir, r.eth)
		rule.BelongsDefault = true
		if r.dir == "ingress" {
			rule.RemoteGroupID = &sg.ID
		}
		if err := insert(ctx, o, rule); err != nil {
			return "", err
		}
	}
	return sg.ID, nil
}

func (s *Service) newRule(sg *SecurityGroup, dir, eth string) *SGRule {
	return &SGRule{Std: s.newStd(ids.UUID(), sg.ProjectID, nil, nil), SecurityGroupID: sg.ID, Direction: dir, EtherType: eth}
}

// CreateSecurityGroup creates a group with egress rules for both families.
func (s *Service) CreateSecurityGroup(ctx context.Context, c Caller, sp SecurityGroupSpec) (*SecurityGroup, error) {
	project, err := owner(c, sp.ProjectID, sp.TenantID)
	if err != nil {
		return nil, err
	}
	if sp.Shared != nil && *sp.Shared {
		return nil, badInput("Sharing security groups is done through RBAC policies, which are not supported.")
	}
	sg := &SecurityGroup{Std: s.newStd(ids.UUID(), project, sp.Name, sp.Description), Stateful: true}
	setBool(&sg.Stateful, sp.Stateful)
	if len(sg.Name) > 255 || len(sg.Description) > 255 {
		return nil, badInput("name and description are at most 255 characters.")
	}
	if sp.Tags != nil {
		for _, t := range sp.Tags {
			if err := validTag(t); err != nil {
				return nil, err
			}
		}
		sg.Tags = sp.Tags
	}
	err = s.store.Tx(ctx, func(o Ops) error {
		if _, err := s.ensureDefaultSG(ctx, o, project); err != nil {
			return err
		}
		if sg.Name == "default" {
			return errs.Conflict("Default security group already exists.").WithType("SecurityGroupDefaultAlreadyExists")
		}
		if err := s.checkQuota(ctx, o, project, "security_group", KindSecurityGroup); err != nil {
			return err
		}
		if err := insert(ctx, o, sg); err != nil {
			return err
		}
		for _, eth := range []string{"IPv4", "IPv6"} {
			if err := insert(ctx, o, s.newRule(sg, "egress", eth)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetSecurityGroup(ctx, c, sg.ID)
}

// GetSecurityGroup returns a group with its rules.
func (s *Service) GetSecurityGroup(ctx context.Context, c Caller, id string) (*SecurityGroup, error) {
	sg, _, err := load[*SecurityGroup](ctx, s.store.Read(), c, KindSecurityGroup, id, false)
	if err != nil {
		return nil, err
	}
	if err := s.FillRules(ctx, []*SecurityGroup{sg}); err != nil {
		return nil, err
	}
	return sg, nil
}

// FillRules sets the groups' rules.
func (s *Service) FillRules(ctx context.Context, sgs []*SecurityGroup) error {
	if len(sgs) == 0 {
		return nil
	}
	byID := map[string]*SecurityGroup{}
	var idl []string
	for _, sg := range sgs {
		sg.Rules = []SGRule{}
		byID[sg.ID] = sg
		idl = append(idl, sg.ID)
	}
	rows, err := s.store.Read().List(ctx, KindSGRule, Query{Eq: map[string][]string{"parent_id": idl}})
	if err != nil {
		return err
	}
	for _, row := range rows {
		r, err := decode(KindSGRule, row)
		if err != nil {
			return err
		}
		rule := r.(*SGRule)
		byID[rule.SecurityGroupID].Rules = append(byID[rule.SecurityGroupID].Rules, *rule)
	}
	return nil
}

// UpdateSecurityGroup renames a group.
func (s *Service) UpdateSecurityGroup(ctx context.Context, c Caller, id string, sp SecurityGroupSpec, rev *int64) (*SecurityGroup, error) {
	if sp.ProjectID != nil || sp.TenantID != nil || sp.Tags != nil || (sp.Shared != nil && *sp.Shared) {
		return nil, badInput("Cannot update read-only attributes of a security group.")
	}
	err := s.store.Tx(ctx, func(o Ops) error {
		sg, row, err := load[*SecurityGroup](ctx, o, c, KindSecurityGroup, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to update security group %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&sg.Std, rev); err != nil {
			return err
		}
		if sp.Name != nil && *sp.Name != sg.Name && (sg.Name == "default" || *sp.Name == "default") {
			return errs.Conflict("Updating default security group not allowed.").WithType("SecurityGroupCannotUpdateDefault")
		}
		setStr(&sg.Name, sp.Name)
		setStr(&sg.Description, sp.Description)
		setBool(&sg.Stateful, sp.Stateful)
		return s.save(ctx, o, sg)
	})
	if err != nil {
		return nil, err
	}
	return s.GetSecurityGroup(ctx, c, id)
}

// DeleteSecurityGroup deletes an unused group with its rules.
func (s *Service) DeleteSecurityGroup(ctx context.Context, c Caller, id string, rev *int64) error {
	return s.store.Tx(ctx, func(o Ops) error {
		sg, row, err := load[*SecurityGroup](ctx, o, c, KindSecurityGroup, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete security group %s.", id).WithType("PolicyNotAuthorized")
		}
		if err := CheckRevision(&sg.Std, rev); err != nil {
			return err
		}
		def, err := o.DefaultSecurityGroup(ctx, sg.ProjectID)
		if err != nil {
			return err
		}
		if def == id {
			if !c.Admin {
				return errs.Conflict("Insufficient rights for removing default security group.").WithType("SecurityGroupCannotRemoveDefault")
			}
			if err := o.ForgetDefaultSecurityGroup(ctx, sg.ProjectID); err != nil {
				return err
			}
		}
		n, err := o.SecurityGroupPorts(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflict("Security Group %s in use.", id).WithType("SecurityGroupInUse")
		}
		// Rules of other groups naming this one as their remote go too.
		refs, err := o.List(ctx, KindSGRule, Query{Eq: map[string][]string{"device_id": {id}}})
		if err != nil {
			return err
		}
		for _, r := range refs {
			if err := o.Delete(ctx, KindSGRule, r.ID); err != nil && !errs.Is(err, errs.KindNotFound) {
				return err
			}
		}
		return o.Delete(ctx, KindSecurityGroup, id)
	})
}

// CreateSGRule adds a rule to a group the caller owns.
func (s *Service) CreateSGRule(ctx context.Context, c Caller, sp SGRuleSpec) (*SGRule, error) {
	if sp.SecurityGroupID == nil || *sp.SecurityGroupID == "" {
		return nil, badInput("security_group_id is required.")
	}
	if sp.RemoteAGID != nil && *sp.RemoteAGID != "" {
		return nil, badInput("Address groups are not supported.")
	}
	var rule *SGRule
	err := s.store.Tx(ctx, func(o Ops) error {
		sg, row, err := load[*SecurityGroup](ctx, o, c, KindSecurityGroup, *sp.SecurityGroupID, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to add rules to security group %s.", sg.ID).WithType("PolicyNotAuthorized")
		}
		rule = s.newRule(sg, "", "IPv4")
		setStr(&rule.Description, sp.Description)
		if err := validateRule(rule, sp); err != nil {
			return err
		}
		if rule.RemoteGroupID != nil {
			rg, err := o.Get(ctx, KindSecurityGroup, *rule.RemoteGroupID, false)
			if err != nil || !visible(c, KindSecurityGroup, rg) {
				return errs.NotFound("Security group %s does not exist", *rule.RemoteGroupID).WithType("SecurityGroupNotFound")
			}
		}
		existing, err := o.List(ctx, KindSGRule, Query{Eq: map[string][]string{"parent_id": {sg.ID}}})
		if err != nil {
			return err
		}
		for _, er := range existing {
			x, err := decode(KindSGRule, er)
			if err != nil {
				return err
			}
			if sameRule(x.(*SGRule), rule) {
				return errs.Conflict("Security group rule already exists. Rule id is %s.", er.ID).WithType("SecurityGroupRuleExists")
			}
		}
		if err := s.checkQuota(ctx, o, sg.ProjectID, "security_group_rule", KindSGRule); err != nil {
			return err
		}
		return insert(ctx, o, rule)
	})
	if err != nil {
		return nil, err
	}
	return rule, nil
}

func validateRule(rule *SGRule, sp SGRuleSpec) error {
	if sp.Direction == nil || (*sp.Direction != "ingress" && *sp.Direction != "egress") {
		return badInput("direction must be 'ingress' or 'egress'.")
	}
	rule.Direction = *sp.Direction
	if sp.EtherType != nil {
		switch strings.ToLower(*sp.EtherType) {
		case "ipv4":
			rule.EtherType = "IPv4"
		case "ipv6":
			rule.EtherType = "IPv6"
		default:
			return badInput("'%s' is not in ['IPv4', 'IPv6'].", *sp.EtherType)
		}
	}
	num := -1
	if sp.Protocol != nil && *sp.Protocol != "" && strings.ToLower(*sp.Protocol) != "any" {
		p := strings.ToLower(*sp.Protocol)
		if n, ok := protocols[p]; ok {
			num = n
		} else if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
			num = n
		} else {
			return badInput("Security group rule protocol %s not supported. Only protocol values %s and integer representations [0 to 255] are supported.", *sp.Protocol, "[tcp, udp, icmp, icmpv6, ...]").WithType("SecurityGroupRuleInvalidProtocol")
		}
		if (p == "icmpv6" || p == "ipv6-icmp" || num == 58) && rule.EtherType == "IPv4" {
			return badInput("Etherype IPv4 is not supported with protocol %s.", p).WithType("SecurityGroupEthertypeConflictWithProtocol")
		}
		rule.Protocol = &p
	}
	if sp.PortRangeMin != nil || sp.PortRangeMax != nil {
		switch {
		case portProtocols[num]:
			if sp.PortRangeMin == nil || sp.PortRangeMax == nil {
				return badInput("For TCP/UDP protocols, port_range_min and port_range_max must both be set.").WithType("SecurityGroupInvalidPortRange")
			}
			if *sp.PortRangeMin < 1 || *sp.PortRangeMax > 65535 || *sp.PortRangeMin > *sp.PortRangeMax {
				return badInput("For TCP/UDP protocols, port_range_min must be <= port_range_max, within 1-65535.").WithType("SecurityGroupInvalidPortRange")
			}
		case num == 1 || num == 58:
			for _, v := range []*int{sp.PortRangeMin, sp.PortRangeMax} {
				if v != nil && (*v < 0 || *v > 255) {
					return badInput("Invalid value for ICMP type or code: %d.", *v).WithType("SecurityGroupInvalidIcmpValue")
				}
			}
			if sp.PortRangeMin == nil && sp.PortRangeMax != nil {
				return badInput("ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.").WithType("SecurityGroupMissingIcmpType")
			}
		default:
			return badInput("Invalid protocol %v for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", sp.Protocol).WithType("SecurityGroupInvalidProtocolForPortRange")
		}
		rule.PortRangeMin, rule.PortRangeMax = sp.PortRangeMin, sp.PortRangeMax
	}
	if sp.RemoteIPPrefix != nil && *sp.RemoteIPPrefix != "" && sp.RemoteGroupID != nil && *sp.RemoteGroupID != "" {
		return badInput("Only remote_ip_prefix or remote_group_id may be provided.").WithType("SecurityGroupRemoteGroupAndRemoteIpPrefix")
	}
	if sp.RemoteIPPrefix != nil && *sp.RemoteIPPrefix != "" {
		pf, err := netip.ParsePrefix(*sp.RemoteIPPrefix)
		if err != nil {
			a, err2 := netip.ParseAddr(*sp.RemoteIPPrefix)
			if err2 != nil {
				return badInput("'%s' is not a valid IP prefix.", *sp.RemoteIPPrefix)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		if (pf.Addr().Is4() && rule.EtherType != "IPv4") || (pf.Addr().Is6() && rule.EtherType != "IPv6") {
			return badInput("Conflicting value ethertype %s for CIDR %s.", rule.EtherType, pf).WithType("SecurityGroupRuleParameterConflict")
		}
		v, norm := pf.String(), pf.Masked().String()
		rule.RemoteIPPrefix, rule.Normalized = &norm, &norm
		_ = v
	}
	if sp.RemoteGroupID != nil && *sp.RemoteGroupID != "" {
		rule.RemoteGroupID = sp.RemoteGroupID
	}
	return nil
}

func eqp[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func protoNum(p *string) int {
	if p == nil {
		return -1
	}
	if n, ok := protocols[*p]; ok {
		return n
	}
	n, _ := strconv.Atoi(*p)
	return n
}

func sameRule(a, b *SGRule) bool {
	return a.Direction == b.Direction && a.EtherType == b.EtherType && protoNum(a.Protocol) == protoNum(b.Protocol) &&
		eqp(a.PortRangeMin, b.PortRangeMin) && eqp(a.PortRangeMax, b.PortRangeMax) &&
		eqp(a.RemoteIPPrefix, b.RemoteIPPrefix) && eqp(a.RemoteGroupID, b.RemoteGroupID)
}

// DeleteSGRule deletes a rule.
func (s *Service) DeleteSGRule(ctx context.Context, c Caller, id string) error {
	return s.store.Tx(ctx, func(o Ops) error {
		_, row, err := load[*SGRule](ctx, o, c, KindSGRule, id, true)
		if err != nil {
			return err
		}
		if !ownsOrAdmin(c, row.ProjectID) {
			return errs.Forbidden("You are not allowed to delete security group rule %s.", id).WithType("PolicyNotAuthorized")
		}
		return o.Delete(ctx, KindSGRule, id)
	})
}
