package networkapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gureum/gureum/internal/network"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/policy"
)

// createTarget is the policy target of a new resource: its future owner.
func createTarget(r *http.Request, projectID, tenantID *string) policy.Target {
	p := caller(r).ProjectID
	for _, v := range []*string{tenantID, projectID} {
		if v != nil && *v != "" {
			p = *v
		}
	}
	return policy.Target{"project_id": p, "tenant_id": p}
}

// networkOwner adds the owner of a network to a target, for the
// admin_or_network_owner rules. A network the caller cannot see is
// NotFound before any policy says 403, so its existence does not leak;
// an empty ID is left to the service's validation.
func (a *API) networkOwner(r *http.Request, t policy.Target, networkID string) (policy.Target, error) {
	if networkID == "" {
		return t, nil
	}
	_, row, err := a.svc.Get(r.Context(), caller(r), network.KindNetwork, networkID)
	if err != nil {
		return nil, err
	}
	t["network:project_id"] = row.ProjectID
	t["network:tenant_id"] = row.ProjectID
	t["shared"] = boolStr(row.Shared)
	return t, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (a *API) createNetwork(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.NetworkSpec](r, "network")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "create", defNetwork, inner, t); err != nil {
		return err
	}
	n, err := a.svc.CreateNetwork(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defNetwork, http.StatusCreated, n)
	return nil
}

func (a *API) updateNetwork(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.NetworkSpec](r, "network")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	_, row, err := a.loadFor(r, defNetwork, nil)
	if err != nil {
		return err
	}
	if err := checkAttrs(r, "update", defNetwork, inner, targetOf(row)); err != nil {
		return err
	}
	n, err := a.svc.UpdateNetwork(r.Context(), caller(r), row.ID, sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defNetwork, http.StatusOK, n)
	return nil
}

func (a *API) createSubnet(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.SubnetSpec](r, "subnet")
	if err != nil {
		return err
	}
	t, err := a.networkOwner(r, createTarget(r, sp.ProjectID, sp.TenantID), str(sp.NetworkID))
	if err != nil {
		return err
	}
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "create", defSubnet, inner, t); err != nil {
		return err
	}
	sn, err := a.svc.CreateSubnet(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defSubnet, http.StatusCreated, sn)
	return nil
}

func (a *API) updateSubnet(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.SubnetSpec](r, "subnet")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, row, err := a.svc.Get(r.Context(), caller(r), network.KindSubnet, r.PathValue("id"))
	if err != nil {
		return err
	}
	t, err := a.networkOwner(r, targetOf(row), res.(*network.Subnet).NetworkID)
	if err != nil {
		return err
	}
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "update", defSubnet, inner, t); err != nil {
		return err
	}
	sn, err := a.svc.UpdateSubnet(r.Context(), caller(r), row.ID, sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defSubnet, http.StatusOK, sn)
	return nil
}

// portAttrs checks the port's attribute rules, with Neutron's special
// cases: fixed_ips:ip_address only when an address is asked for,
// device_owner only for "network:" owners.
func portAttrs(r *http.Request, action string, sp network.PortSpec, inner map[string]json.RawMessage, t policy.Target) error {
	plain := map[string]json.RawMessage{}
	for k, v := range inner {
		if k != "device_owner" && k != "fixed_ips" {
			plain[k] = v
		}
	}
	if err := checkAttrs(r, action, defPort, plain, t); err != nil {
		return err
	}
	if sp.DeviceOwner != nil && strings.HasPrefix(*sp.DeviceOwner, "network:") {
		if err := httpx.Check(r, action+"_port:device_owner", t); err != nil {
			return err
		}
	}
	if sp.FixedIPs != nil {
		for _, f := range *sp.FixedIPs {
			if f.IPAddress != "" {
				if err := httpx.Check(r, action+"_port:fixed_ips:ip_address", t); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func (a *API) createPort(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.PortSpec](r, "port")
	if err != nil {
		return err
	}
	t, err := a.networkOwner(r, createTarget(r, sp.ProjectID, sp.TenantID), str(sp.NetworkID))
	if err != nil {
		return err
	}
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := portAttrs(r, "create", sp, inner, t); err != nil {
		return err
	}
	p, err := a.svc.CreatePort(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defPort, http.StatusCreated, p)
	return nil
}

func (a *API) updatePort(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.PortSpec](r, "port")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, row, err := a.svc.Get(r.Context(), caller(r), network.KindPort, r.PathValue("id"))
	if err != nil {
		return err
	}
	t, err := a.networkOwner(r, targetOf(row), res.(*network.Port).NetworkID)
	if err != nil {
		return err
	}
	t["shared"] = "False"
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := portAttrs(r, "update", sp, inner, t); err != nil {
		return err
	}
	p, err := a.svc.UpdatePort(r.Context(), caller(r), row.ID, sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defPort, http.StatusOK, p)
	return nil
}

func (a *API) createSG(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.SecurityGroupSpec](r, "security_group")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "create", defSG, inner, t); err != nil {
		return err
	}
	sg, err := a.svc.CreateSecurityGroup(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defSG, http.StatusCreated, sg)
	return nil
}

func (a *API) updateSG(w http.ResponseWriter, r *http.Request) error {
	sp, _, err := decodeBody[network.SecurityGroupSpec](r, "security_group")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if _, _, err := a.loadFor(r, defSG, nil); err != nil {
		return err
	}
	sg, err := a.svc.UpdateSecurityGroup(r.Context(), caller(r), r.PathValue("id"), sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defSG, http.StatusOK, sg)
	return nil
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) error {
	sp, _, err := decodeBody[network.SGRuleSpec](r, "security_group_rule")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	rule, err := a.svc.CreateSGRule(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defRule, http.StatusCreated, rule)
	return nil
}

func routerAttrs(r *http.Request, action string, sp network.RouterSpec, inner map[string]json.RawMessage, t policy.Target) error {
	if err := checkAttrs(r, action, defRouter, inner, t); err != nil {
		return err
	}
	if sp.Gateway.Set && !sp.Gateway.Null && len(sp.Gateway.V.ExternalFixedIPs) > 0 {
		return httpx.Check(r, action+"_router:external_gateway_info:external_fixed_ips", t)
	}
	return nil
}

func (a *API) createRouter(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.RouterSpec](r, "router")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := routerAttrs(r, "create", sp, inner, t); err != nil {
		return err
	}
	rt, err := a.svc.CreateRouter(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defRouter, http.StatusCreated, rt)
	return nil
}

func (a *API) updateRouter(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.RouterSpec](r, "router")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	_, row, err := a.loadFor(r, defRouter, nil)
	if err != nil {
		return err
	}
	if err := routerAttrs(r, "update", sp, inner, targetOf(row)); err != nil {
		return err
	}
	rt, err := a.svc.UpdateRouter(r.Context(), caller(r), row.ID, sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defRouter, http.StatusOK, rt)
	return nil
}

func (a *API) routerInterface(add bool) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var sp network.InterfaceSpec
		if err := httpx.DecodeJSON(r, &sp); err != nil {
			return err
		}
		if _, _, err := a.loadFor(r, defRouter, nil); err != nil {
			return err
		}
		var info *network.InterfaceInfo
		var err error
		if add {
			info, err = a.svc.AddRouterInterface(r.Context(), caller(r), r.PathValue("id"), sp)
		} else {
			info, err = a.svc.RemoveRouterInterface(r.Context(), caller(r), r.PathValue("id"), sp)
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, info)
		return nil
	}
}

func (a *API) createFIP(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.FloatingIPSpec](r, "floatingip")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "create", defFIP, inner, t); err != nil {
		return err
	}
	f, err := a.svc.CreateFloatingIP(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defFIP, http.StatusCreated, f)
	return nil
}

func (a *API) updateFIP(w http.ResponseWriter, r *http.Request) error {
	sp, _, err := decodeBody[network.FloatingIPSpec](r, "floatingip")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if _, _, err := a.loadFor(r, defFIP, nil); err != nil {
		return err
	}
	f, err := a.svc.UpdateFloatingIP(r.Context(), caller(r), r.PathValue("id"), sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defFIP, http.StatusOK, f)
	return nil
}

func (a *API) createPool(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.SubnetPoolSpec](r, "subnetpool")
	if err != nil {
		return err
	}
	t := createTarget(r, sp.ProjectID, sp.TenantID)
	if err := httpx.Authorize(r, t); err != nil {
		return err
	}
	if err := checkAttrs(r, "create", defPool, inner, t); err != nil {
		return err
	}
	p, err := a.svc.CreateSubnetPool(r.Context(), caller(r), sp)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defPool, http.StatusCreated, p)
	return nil
}

func (a *API) updatePool(w http.ResponseWriter, r *http.Request) error {
	sp, inner, err := decodeBody[network.SubnetPoolSpec](r, "subnetpool")
	if err != nil {
		return err
	}
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	_, row, err := a.loadFor(r, defPool, nil)
	if err != nil {
		return err
	}
	if err := checkAttrs(r, "update", defPool, inner, targetOf(row)); err != nil {
		return err
	}
	p, err := a.svc.UpdateSubnetPool(r.Context(), caller(r), row.ID, sp, rev)
	if err != nil {
		return err
	}
	a.writeOne(w, r, defPool, http.StatusOK, p)
	return nil
}
