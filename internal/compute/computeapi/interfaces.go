package computeapi

import (
	"net/http"
	"net/netip"

	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
	"github.com/gureum/gureum/internal/platform/ids"
)

// os-interface: the ports of a server (nova's attach_interfaces). The
// "tag" field arrives in 2.49/2.70, above MaxVersion.

type fixedIPView struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type interfaceView struct {
	NetID     string        `json:"net_id"`
	PortID    string        `json:"port_id"`
	MACAddr   string        `json:"mac_addr"`
	PortState string        `json:"port_state"`
	FixedIPs  []fixedIPView `json:"fixed_ips"`
}

func viewInterface(in *compute.Interface) interfaceView {
	v := interfaceView{NetID: in.NetworkID, PortID: in.PortID, MACAddr: in.MAC, PortState: in.State, FixedIPs: []fixedIPView{}}
	for _, ip := range in.FixedIPs {
		v.FixedIPs = append(v.FixedIPs, fixedIPView{SubnetID: ip.SubnetID, IPAddress: ip.IPAddress})
	}
	return v
}

func (a *API) listInterfaces(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	list, err := a.svc.Interfaces(c.r.Context(), c.c, sv.ID)
	if err != nil {
		return err
	}
	out := make([]interfaceView, 0, len(list))
	for _, in := range list {
		out = append(out, viewInterface(in))
	}
	return c.json(http.StatusOK, obj{"interfaceAttachments": out})
}

func (a *API) getInterface(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	in, err := a.svc.GetInterface(c.r.Context(), c.c, sv.ID, c.r.PathValue("port_id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"interfaceAttachment": viewInterface(in)})
}

func (a *API) createInterface(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	var body struct {
		Attachment *struct {
			NetID    *string `json:"net_id"`
			PortID   *string `json:"port_id"`
			FixedIPs *[]struct {
				IPAddress *string `json:"ip_address"`
			} `json:"fixed_ips"`
		} `json:"interfaceAttachment"`
	}
	if err := httpx.DecodeJSON(c.r, &body); err != nil {
		return err
	}
	var req compute.AttachRequest
	if at := body.Attachment; at != nil {
		if at.NetID != nil {
			if !ids.ValidUUID(*at.NetID) {
				return errs.BadRequest("Invalid input for field/attribute net_id. Value: %s. '%s' is not a 'uuid'", *at.NetID, *at.NetID)
			}
			req.NetworkID = *at.NetID
		}
		if at.PortID != nil {
			if !ids.ValidUUID(*at.PortID) {
				return errs.BadRequest("Invalid input for field/attribute port_id. Value: %s. '%s' is not a 'uuid'", *at.PortID, *at.PortID)
			}
			req.PortID = *at.PortID
		}
		if at.FixedIPs != nil {
			ips := *at.FixedIPs
			if len(ips) != 1 {
				return errs.BadRequest("Invalid input for field/attribute fixed_ips. Value: %d items. fixed_ips takes exactly one address", len(ips))
			}
			if ips[0].IPAddress == nil {
				return errs.BadRequest("Invalid input for field/attribute fixed_ips. 'ip_address' is a required property")
			}
			if _, err := netip.ParseAddr(*ips[0].IPAddress); err != nil {
				return errs.BadRequest("Invalid input for field/attribute ip_address. Value: %s. '%s' is not a 'ip-address'", *ips[0].IPAddress, *ips[0].IPAddress)
			}
			req.FixedIP = *ips[0].IPAddress
		}
	}
	in, err := a.svc.AttachInterface(c.r.Context(), c.c, sv.ID, req)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, obj{"interfaceAttachment": viewInterface(in)})
}

func (a *API) deleteInterface(c *call) error {
	sv, err := a.server(c)
	if err != nil {
		return err
	}
	if err := a.svc.DetachInterface(c.r.Context(), c.c, sv.ID, c.r.PathValue("port_id")); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}
