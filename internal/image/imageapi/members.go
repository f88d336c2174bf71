package imageapi

import (
	"net/http"

	"github.com/gureum/gureum/internal/image"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/httpx"
)

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	ms, err := a.svc.Members(r.Context(), img.ID)
	if err != nil {
		return err
	}
	c := caller(r)
	out := []obj{}
	for _, m := range ms {
		// A member sees its own membership only; the owner sees all.
		if c.Admin || c.Project == img.Owner || c.Project == m.MemberID {
			out = append(out, memberView(m))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, obj{"members": out, "schema": "/v2/schemas/members"})
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	img, _, err := a.load(r)
	if err != nil {
		return err
	}
	var body struct {
		Member string `json:"member"`
	}
	// Lenient: openstacksdk sends the member's other attributes along.
	if err := httpx.DecodeJSONLenient(r, &body); err != nil {
		return err
	}
	m, err := a.svc.AddMember(r.Context(), img, body.Member)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, memberView(m))
	return nil
}

// member loads the membership the path names, visible to the owner, the
// member itself and admins.
func (a *API) member(r *http.Request) (*image.Image, *image.Member, error) {
	img, _, err := a.load(r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("member_id")
	c := caller(r)
	m, err := a.svc.Member(r.Context(), img.ID, id)
	if err != nil {
		return nil, nil, err
	}
	if m == nil || !(c.Admin || c.Project == img.Owner || c.Project == id) {
		return nil, nil, errs.NotFound("%s is not a member of image %s.", id, img.ID)
	}
	return img, m, nil
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) error {
	_, m, err := a.member(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, memberView(m))
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	_, m, err := a.member(r)
	if err != nil {
		return err
	}
	var body struct {
		Status string `json:"status"`
	}
	// Lenient: openstacksdk sends the member's other attributes along.
	if err := httpx.DecodeJSONLenient(r, &body); err != nil {
		return err
	}
	m, err = a.svc.SetMemberStatus(r.Context(), m, body.Status)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, memberView(m))
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	img, m, err := a.member(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteMember(r.Context(), img.ID, m.MemberID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
