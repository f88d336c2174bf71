package compute

import (
	"context"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// Rescue (nova's): the server boots a rescue image with its own disk
// attached second; status RESCUE until unrescued.
const (
	VMRescued      = "rescued"
	TaskRescuing   = "rescuing"
	TaskUnrescuing = "unrescuing"
)

// Rescue boots a server from a rescue image (default: the server's own
// image) with its disk attached second, and returns the admin password.
// From ACTIVE, SHUTOFF or ERROR (409 otherwise); the boot runs in the
// background and the server turns RESCUE.
func (s *Service) Rescue(ctx context.Context, c Caller, id, adminPass, imageRef string) (string, error) {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return "", err
	}
	imageID := sv.ImageRef
	ic := Caller{UserID: sv.UserID, ProjectID: sv.ProjectID, Admin: true}
	if imageRef != "" {
		imageID = lastSegment(imageRef)
		if !ids.ValidUUID(imageID) {
			return "", errs.BadRequest("Invalid input for field/attribute rescue_image_ref. Value: %s. '%s' is not a 'uuid'", imageRef, imageRef)
		}
		ic = c
	}
	img, err := s.bootImage(ctx, ic, imageID, &sv.Flavor)
	if err != nil {
		return "", err
	}
	if adminPass == "" {
		adminPass = ids.Random(6)
	}
	sv, err = s.beginTask(ctx, id, "rescue", []string{VMActive, VMStopped, VMError}, TaskRescuing, nil)
	if err != nil {
		return "", err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "rescue", StartTime: s.now()})
	spec := s.spec(sv, img, s.nicsOf(sv), adminPass)
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_rescue_instance", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpRescue, Spec: spec}, VMRescued, nil)
	})
	return adminPass, nil
}

// Unrescue boots a rescued server from its own disk again (ACTIVE).
func (s *Service) Unrescue(ctx context.Context, c Caller, id string) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	// A rescued server is on a node (rescue needs one and it is never
	// taken away).
	sv, err = s.beginTask(ctx, id, "unrescue", []string{VMRescued}, TaskUnrescuing, nil)
	if err != nil {
		return err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "unrescue", StartTime: s.now()})
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_unrescue_instance", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpUnrescue}, VMActive, func(sv *Server) { sv.Fault = nil })
	})
	return nil
}
