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
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return "", err
	}
	if err := s.checkLocked(c, sv); err != nil {
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
	var img *Image
	if s.images != nil {
		if img, err = s.images.GetImage(ctx, ic, imageID); err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return "", errs.BadRequest("Image %s could not be found.", imageID)
			}
			return "", err
		}
		if err := checkImageFits(img, &sv.Flavor); err != nil {
			return "", err
		}
	}
	if adminPass == "" {
		adminPass = ids.Random(6)
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if !contains([]string{VMActive, VMStopped, VMError}, sv.VMState) || sv.NodeID == "" {
			return stateConflict(sv, "rescue")
		}
		if sv.TaskState != "" {
			return errs.Conflict("Cannot 'rescue' instance %s while it is in task_state %s", sv.ID, sv.TaskState)
		}
		sv.TaskState = TaskRescuing
		return nil
	})
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
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return err
	}
	if err := s.checkLocked(c, sv); err != nil {
		return err
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.VMState != VMRescued {
			return stateConflict(sv, "unrescue")
		}
		if sv.TaskState != "" {
			return errs.Conflict("Cannot 'unrescue' instance %s while it is in task_state %s", sv.ID, sv.TaskState)
		}
		sv.TaskState = TaskUnrescuing
		return nil
	})
	if err != nil {
		return err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "unrescue", StartTime: s.now()})
	s.goBackground(func(ctx context.Context) {
		s.runTask(ctx, sv, c.RequestID, "compute_unrescue_instance", agentapi.Task{ID: ids.UUID(), ServerID: id, Op: agentapi.OpUnrescue}, VMActive, func(sv *Server) { sv.Fault = nil })
	})
	return nil
}
