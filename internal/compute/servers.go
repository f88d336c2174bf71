package compute

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/platform/errs"
	"github.com/gureum/gureum/internal/platform/ids"
)

// CreateRequest is a validated-by-shape server create request.
type CreateRequest struct {
	Name           string
	Description    *string
	ImageRef       string
	FlavorRef      string
	Networks       []NetworkRequest
	NetworksMode   string // "", "auto", "none"
	KeyName        string
	UserData       string
	Metadata       map[string]string
	SecurityGroups []string
	AZ             string
	ConfigDrive    bool
	MinCount       int
	MaxCount       int
	AdminPass      string
	GroupID        string
	Tags           []string
}

// Limits of user input, as nova's schemas.
const (
	MaxUserData     = 65535
	MaxNameLen      = 255
	MaxMetaKeyLen   = 255
	MaxMetaValueLen = 255
	MaxTagLen       = 60
	MaxTags         = 50
)

// ValidateMetadata checks metadata against nova's limits.
func (s *Service) ValidateMetadata(ctx context.Context, projectID string, md map[string]string) error {
	limit := s.quotaLimit(ctx, projectID, QMetadataItems)
	if limit >= 0 && len(md) > limit {
		return errs.OverQuota("Quota exceeded for metadata_items: maximum number of metadata items is %d", limit).WithStatus(403)
	}
	for k, v := range md {
		if k == "" || len(k) > MaxMetaKeyLen {
			return errs.BadRequest("Invalid input for field/attribute metadata. Metadata keys must be 1-255 characters.")
		}
		if len(v) > MaxMetaValueLen {
			return errs.BadRequest("Invalid input for field/attribute metadata. Metadata values must be at most 255 characters.")
		}
	}
	return nil
}

// ValidateTag checks one server tag.
func ValidateTag(t string) error {
	if t == "" || len(t) > MaxTagLen || strings.ContainsAny(t, ",/") {
		return errs.BadRequest("Invalid tag %q: 1-60 characters, no ',' or '/'.", t)
	}
	return nil
}

var validName = regexp.MustCompile(`^\S(.*\S)?$`)

// ServersCreated is the result of a create request.
type ServersCreated struct {
	Servers       []*Server
	ReservationID string
	AdminPass     string
}

// CreateServers validates the request, claims quota and writes the servers
// in BUILD in one transaction, then schedules and spawns them in the
// background. Every failure after the write turns the server ERROR with a
// fault and releases what it held.
func (s *Service) CreateServers(ctx context.Context, c Caller, req CreateRequest) (*ServersCreated, error) {
	if req.Name == "" || len(req.Name) > MaxNameLen || !validName.MatchString(req.Name) {
		return nil, errs.BadRequest("Invalid input for field/attribute name. Value: %s. must be 1-255 characters without leading or trailing whitespace", req.Name)
	}
	if req.MinCount == 0 {
		req.MinCount = 1
	}
	if req.MaxCount == 0 {
		req.MaxCount = req.MinCount
	}
	if req.MinCount < 1 || req.MaxCount < req.MinCount {
		return nil, errs.BadRequest("min_count must be >= 1 and max_count >= min_count.")
	}
	if req.MaxCount > 100 {
		return nil, errs.BadRequest("max_count may not exceed 100.")
	}
	flavor, err := s.GetFlavor(ctx, c, lastSegment(req.FlavorRef))
	if err != nil {
		if errs.Is(err, errs.KindNotFound) {
			return nil, errs.BadRequest("Flavor %s could not be found.", req.FlavorRef)
		}
		return nil, err
	}
	if flavor.Disabled {
		return nil, errs.BadRequest("Flavor %s is disabled.", flavor.ID)
	}
	imageID := lastSegment(req.ImageRef)
	if imageID == "" {
		return nil, errs.BadRequest("Block Device Mapping is Invalid: booting without an image is not supported.")
	}
	if !ids.ValidUUID(imageID) {
		return nil, errs.BadRequest("Invalid imageRef provided.")
	}
	var img *Image
	if s.images != nil {
		img, err = s.images.GetImage(ctx, c, imageID)
		if err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return nil, errs.BadRequest("Image %s could not be found.", imageID)
			}
			return nil, err
		}
		if img.Status != "active" {
			return nil, errs.BadRequest("Image %s is not active.", imageID)
		}
		if err := checkImageFits(img, flavor); err != nil {
			return nil, err
		}
	}
	if req.AdminPass == "" {
		req.AdminPass = ids.Random(6)
	}
	var keyData string
	if req.KeyName != "" {
		kp, err := s.store.GetKeyPair(ctx, c.UserID, req.KeyName)
		if err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return nil, errs.BadRequest("Invalid key_name provided.")
			}
			return nil, err
		}
		keyData = kp.PublicKey
	}
	if req.UserData != "" {
		if len(req.UserData) > MaxUserData {
			return nil, errs.BadRequest("User data too large. User data must be no larger than %d bytes once base64 encoded.", MaxUserData)
		}
		if _, err := base64.StdEncoding.DecodeString(req.UserData); err != nil {
			return nil, errs.BadRequest("Invalid input for field/attribute user_data. Value: %s. 'user_data' is not a valid base64 string.", truncate(req.UserData, 32))
		}
	}
	if req.Metadata == nil {
		req.Metadata = map[string]string{}
	}
	if err := s.ValidateMetadata(ctx, c.ProjectID, req.Metadata); err != nil {
		return nil, err
	}
	for _, t := range req.Tags {
		if err := ValidateTag(t); err != nil {
			return nil, err
		}
	}
	az := req.AZ
	forceHost := ""
	if a, host, ok := strings.Cut(az, ":"); ok {
		if !c.Admin {
			return nil, errs.Forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.")
		}
		az, forceHost = a, strings.Trim(host, ":")
	}
	if az != "" {
		zones, err := s.AvailabilityZones(ctx)
		if err != nil {
			return nil, err
		}
		if _, ok := zones[az]; !ok {
			return nil, errs.BadRequest("The requested availability zone is not available")
		}
	}
	if err := s.checkNetworks(ctx, c, &req); err != nil {
		return nil, err
	}
	var group *ServerGroup
	if req.GroupID != "" {
		group, err = s.GetServerGroup(ctx, c, req.GroupID)
		if err != nil {
			return nil, errs.BadRequest("Invalid server group %s.", req.GroupID)
		}
	}
	if len(req.SecurityGroups) == 0 {
		req.SecurityGroups = []string{"default"}
	}
	limits, err := s.Quotas(ctx, c.ProjectID)
	if err != nil {
		return nil, err
	}
	// Nova creates as many as quota allows between min and max; we take
	// max when it fits, else min, else fail with the quota error.
	now := s.now()
	resID := "r-" + ids.Random(4)
	count := req.MaxCount
	var servers []*Server
	for attempt := 0; attempt < 2; attempt++ {
		servers = servers[:0]
		for i := 0; i < count; i++ {
			name := req.Name
			if count > 1 {
				name = fmt.Sprintf("%s-%d", req.Name, i+1)
			}
			sv := &Server{ID: ids.UUID(), Name: name, ProjectID: c.ProjectID, UserID: c.UserID, Description: req.Description,
				ImageRef: imageID, Flavor: *flavor, KeyName: req.KeyName, KeyData: keyData, UserData: req.UserData, Metadata: req.Metadata,
				AZ: firstNonEmpty(az, s.cfg.DefaultAZ), RequestedAZ: req.AZ, ConfigDrive: req.ConfigDrive, VMState: VMBuilding, TaskState: TaskScheduling,
				Networks: req.Networks, NetworksMode: req.NetworksMode, SecurityGroups: req.SecurityGroups, ServerGroupID: req.GroupID,
				ReservationID: resID, LaunchIndex: i, Hostname: hostnameOf(name), UsageHeld: true, Tags: req.Tags, CreatedAt: now, UpdatedAt: now}
			if forceHost != "" {
				sv.Metadata = copyMap(req.Metadata)
			}
			servers = append(servers, sv)
		}
		claim := map[string]int{QInstances: count, QCores: count * flavor.VCPUs, QRAM: count * flavor.RAM}
		err = s.store.CreateServers(ctx, servers, claim, limits, limits[QServerGroupMembers], Action{RequestID: c.RequestID, ProjectID: c.ProjectID, UserID: c.UserID, Action: "create", StartTime: now})
		if err == nil {
			break
		}
		if !errs.Is(err, errs.KindOverQuota) || count == req.MinCount {
			return nil, err
		}
		count = req.MinCount
	}
	if err != nil {
		return nil, err
	}
	for _, sv := range servers {
		id := sv.ID
		spec := buildSpec{image: img, group: group, forceHost: forceHost, adminPass: req.AdminPass}
		s.goBackground(func(ctx context.Context) { s.buildWith(ctx, id, c.RequestID, &spec) })
	}
	return &ServersCreated{Servers: servers, ReservationID: resID, AdminPass: req.AdminPass}, nil
}

func checkImageFits(img *Image, f *Flavor) error {
	if f.Disk > 0 {
		need := img.VirtualSize
		if need == 0 {
			need = img.Size
		}
		if need > int64(f.Disk)<<30 {
			return errs.BadRequest("Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes.", int64(f.Disk)<<30, need)
		}
		if img.MinDisk > f.Disk {
			return errs.BadRequest("Flavor's disk is too small for requested image. Flavor disk is %d GB, minimum is %d GB.", f.Disk, img.MinDisk)
		}
	}
	if img.MinRAM > f.RAM {
		return errs.BadRequest("Flavor's memory is too small for requested image.")
	}
	return nil
}

// checkNetworks resolves the requested networks now, so unknown networks
// and ports in use fail the request instead of the build.
func (s *Service) checkNetworks(ctx context.Context, c Caller, req *CreateRequest) error {
	if req.NetworksMode == "none" {
		return nil
	}
	if len(req.Networks) > 0 && req.MaxCount > 1 {
		for _, n := range req.Networks {
			if n.Port != "" {
				return errs.BadRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.")
			}
		}
	}
	if s.networks == nil {
		if len(req.Networks) > 0 {
			return errs.BadRequest("Network %s could not be found.", firstNonEmpty(req.Networks[0].UUID, req.Networks[0].Port))
		}
		return nil
	}
	if req.NetworksMode == "auto" || len(req.Networks) == 0 {
		nets, err := s.networks.AvailableNetworks(ctx, c)
		if err != nil {
			return err
		}
		if len(nets) > 1 && req.NetworksMode == "" {
			return errs.Conflict("Multiple possible networks found, use a Network ID to be more specific.")
		}
		if len(nets) == 0 && req.NetworksMode == "auto" {
			return errs.BadRequest("Unable to automatically allocate a network for project %s", c.ProjectID)
		}
		for _, n := range nets[:min(1, len(nets))] {
			req.Networks = append(req.Networks, NetworkRequest{UUID: n.ID})
		}
		return nil
	}
	seen := map[string]bool{}
	for _, n := range req.Networks {
		if n.Port != "" {
			// One port cannot be two of the server's NICs: the second
			// request for it finds it in use, as nova says.
			if seen[n.Port] {
				return errs.Conflict("Port %s is still in use.", n.Port)
			}
			seen[n.Port] = true
			p, err := s.networks.GetPort(ctx, c, n.Port)
			if err != nil {
				if errs.Is(err, errs.KindNotFound) {
					return errs.BadRequest("Port id %s could not be found.", n.Port)
				}
				return err
			}
			if p.DeviceID != "" {
				return errs.Conflict("Port %s is still in use.", n.Port)
			}
			continue
		}
		if _, err := s.networks.GetNetwork(ctx, c, n.UUID); err != nil {
			if errs.Is(err, errs.KindNotFound) {
				return errs.BadRequest("Network %s could not be found.", n.UUID)
			}
			return err
		}
	}
	return nil
}

type buildSpec struct {
	image     *Image
	group     *ServerGroup
	forceHost string
	adminPass string
}

// GetServer returns a server the caller may see.
func (s *Service) GetServer(ctx context.Context, c Caller, id string) (*Server, error) {
	sv, err := s.store.GetServer(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.Admin && sv.ProjectID != c.ProjectID {
		return nil, errs.NotFound("Instance %s could not be found.", id)
	}
	return sv, nil
}

// ListServers lists servers; name is a regular expression as in nova.
func (s *Service) ListServers(ctx context.Context, f ServerFilter, name string) ([]*Server, error) {
	var re *regexp.Regexp
	if name != "" {
		var err error
		if re, err = regexp.Compile(name); err != nil {
			re = regexp.MustCompile(regexp.QuoteMeta(name))
		}
	}
	var ipRE, ip6RE *regexp.Regexp
	for _, x := range []struct {
		src string
		dst **regexp.Regexp
	}{{f.IP, &ipRE}, {f.IP6, &ip6RE}} {
		if x.src == "" {
			continue
		}
		r, err := regexp.Compile(x.src)
		if err != nil {
			r = regexp.MustCompile(regexp.QuoteMeta(x.src))
		}
		*x.dst = r
	}
	matchIP := func(sv *Server, r *regexp.Regexp, v6 bool) bool {
		for _, p := range sv.Ports {
			for _, ip := range p.FixedIPs {
				if strings.Contains(ip, ":") == v6 && r.MatchString(ip) {
					return true
				}
			}
		}
		return false
	}
	limit := f.Limit
	post := re != nil || f.Status != "" || f.FlavorID != "" || ipRE != nil || ip6RE != nil
	if post {
		f.Limit = 0
	}
	list, err := s.store.ListServers(ctx, f)
	if err != nil {
		return nil, err
	}
	if !post {
		return list, nil
	}
	out := list[:0]
	for _, sv := range list {
		if re != nil && !re.MatchString(sv.Name) {
			continue
		}
		if f.Status != "" && sv.Status() != f.Status {
			continue
		}
		if f.FlavorID != "" && sv.Flavor.ID != f.FlavorID {
			continue
		}
		if (ipRE != nil && !matchIP(sv, ipRE, false)) || (ip6RE != nil && !matchIP(sv, ip6RE, true)) {
			continue
		}
		out = append(out, sv)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// UpdateServer changes name/description.
func (s *Service) UpdateServer(ctx context.Context, c Caller, id string, name *string, desc **string) (*Server, error) {
	if _, err := s.GetServer(ctx, c, id); err != nil {
		return nil, err
	}
	if name != nil && (*name == "" || len(*name) > MaxNameLen || !validName.MatchString(*name)) {
		return nil, errs.BadRequest("Invalid input for field/attribute name.")
	}
	return s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if name != nil {
			sv.Name = *name
		}
		if desc != nil {
			sv.Description = *desc
		}
		return nil
	})
}

// SetMetadata replaces (or merges into) a server's metadata.
func (s *Service) SetMetadata(ctx context.Context, c Caller, id string, md map[string]string, replace bool) (*Server, error) {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return nil, err
	}
	merged := map[string]string{}
	if !replace {
		for k, v := range sv.Metadata {
			merged[k] = v
		}
	}
	for k, v := range md {
		merged[k] = v
	}
	if err := s.ValidateMetadata(ctx, sv.ProjectID, merged); err != nil {
		return nil, err
	}
	return s.store.UpdateServer(ctx, id, func(sv *Server) error { sv.Metadata = merged; return nil })
}

// DeleteMetadata removes one key.
func (s *Service) DeleteMetadata(ctx context.Context, c Caller, id, key string) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	if _, ok := sv.Metadata[key]; !ok {
		return errs.NotFound("Metadata item was not found")
	}
	_, err = s.store.UpdateServer(ctx, id, func(sv *Server) error { delete(sv.Metadata, key); return nil })
	return err
}

// SetTags replaces, adds (add=true) or removes (remove=true) tags.
func (s *Service) SetTags(ctx context.Context, c Caller, id string, tags []string, mode string) (*Server, error) {
	if _, err := s.GetServer(ctx, c, id); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateServer(ctx, id, func(sv *Server) error {
		switch mode {
		case "replace":
			sv.Tags = dedupe(tags)
		case "add":
			sv.Tags = dedupe(append(sv.Tags, tags...))
		case "remove":
			for _, t := range tags {
				if !contains(sv.Tags, t) {
					return errs.NotFound("Tag %s could not be found.", t)
				}
			}
			var keep []string
			for _, t := range sv.Tags {
				if !contains(tags, t) {
					keep = append(keep, t)
				}
			}
			sv.Tags = keep
		}
		if len(sv.Tags) > MaxTags {
			return errs.BadRequest("The number of tags exceeded the per-server limit %d", MaxTags)
		}
		if sv.Tags == nil {
			sv.Tags = []string{}
		}
		return nil
	})
}

func (s *Service) checkLocked(c Caller, sv *Server) error {
	if sv.Locked && !c.Admin {
		return errs.Conflict("Instance %s is locked", sv.ID)
	}
	return nil
}

// unlockedServer is the server c may act on: it exists for c (404
// otherwise) and is not locked against c (409).
func (s *Service) unlockedServer(ctx context.Context, c Caller, id string) (*Server, error) {
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkLocked(c, sv); err != nil {
		return nil, err
	}
	return sv, nil
}

// DeleteServer deletes a server: the guest on its node, its ports, then
// its record, allocations and quota usage.
func (s *Service) DeleteServer(ctx context.Context, c Caller, id string, force bool) error {
	sv, err := s.unlockedServer(ctx, c, id)
	if err != nil {
		return err
	}
	sv, err = s.store.UpdateServer(ctx, id, func(sv *Server) error {
		if sv.TaskState == TaskDeleting && !force {
			return errSkip
		}
		sv.TaskState = TaskDeleting
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	_ = s.store.AddAction(ctx, Action{RequestID: c.RequestID, ServerID: id, ProjectID: sv.ProjectID, UserID: c.UserID, Action: "delete", StartTime: s.now()})
	s.goBackground(func(ctx context.Context) { s.destroy(ctx, sv, c) })
	return nil
}

func (s *Service) destroy(ctx context.Context, sv *Server, c Caller) {
	id := sv.ID
	now := s.now()
	_ = s.store.StartEvent(ctx, id, c.RequestID, "compute_terminate_instance", sv.Host, now)
	if sv.NodeID != "" {
		n, err := s.store.GetNode(ctx, sv.NodeID)
		// A node that is down cannot answer: delete locally, as nova does;
		// the agent's reconciler removes the guest when it returns.
		if err == nil && n.Up {
			if _, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ID: "destroy-" + id, ServerID: id, Op: agentapi.OpDestroy}, 0); err != nil {
				s.log.Warn("destroy failed", "server", id, "err", err)
				_, _ = s.store.UpdateServer(ctx, id, func(sv *Server) error {
					sv.VMState, sv.TaskState = VMError, ""
					sv.Fault = &Fault{Code: 500, Message: truncate(err.Error(), 255), Details: err.Error(), Created: s.now()}
					return nil
				})
				_ = s.store.FinishEvent(ctx, id, c.RequestID, "compute_terminate_instance", s.now(), "Error", err.Error())
				return
			}
		}
	}
	s.cleanupPorts(ctx, Caller{UserID: sv.UserID, ProjectID: sv.ProjectID, Admin: true}, id)
	_ = s.store.FinishEvent(ctx, id, c.RequestID, "compute_terminate_instance", s.now(), "Success", "")
	if err := s.store.DeleteServer(ctx, id, s.now()); err != nil && !errs.Is(err, errs.KindNotFound) {
		s.log.Error("delete server record", "server", id, "err", err)
	}
}

// Console returns the server's serial console log (last length lines).
func (s *Service) Console(ctx context.Context, c Caller, id string, length int) (string, error) {
	sv, err := s.GetServer(ctx, c, id)
	if err != nil {
		return "", err
	}
	if sv.NodeID == "" || sv.VMState == VMBuilding || sv.VMState == VMError {
		return "", errs.Conflict("Cannot get console output of instance %s while it is in vm_state %s", id, sv.VMState)
	}
	res, err := s.sendTask(ctx, sv.NodeID, agentapi.Task{ServerID: id, Op: agentapi.OpConsole, Length: length}, 30*time.Second)
	if err != nil {
		return "", errs.Conflict("Console log is not available: %s", err.Error())
	}
	return res.Console, nil
}

// Actions lists a server's instance actions; deleted servers' actions stay
// visible (2.21).
func (s *Service) Actions(ctx context.Context, c Caller, id string) ([]*Action, error) {
	if err := s.actionAccess(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.ListActions(ctx, id)
}

// Action returns one action with its events.
func (s *Service) Action(ctx context.Context, c Caller, id, requestID string) (*Action, error) {
	if err := s.actionAccess(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.GetAction(ctx, id, requestID)
}

func (s *Service) actionAccess(ctx context.Context, c Caller, id string) error {
	sv, err := s.store.GetServer(ctx, id)
	if err == nil {
		if !c.Admin && sv.ProjectID != c.ProjectID {
			return errs.NotFound("Instance %s could not be found.", id)
		}
		return nil
	}
	if !errs.Is(err, errs.KindNotFound) {
		return err
	}
	acts, err := s.store.ListActions(ctx, id)
	if err != nil {
		return err
	}
	if len(acts) == 0 || (!c.Admin && acts[0].ProjectID != c.ProjectID) {
		return errs.NotFound("Instance %s could not be found.", id)
	}
	return nil
}

// AvailabilityZones maps each zone to its nodes.
func (s *Service) AvailabilityZones(ctx context.Context) (map[string][]*Node, error) {
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]*Node{}
	for _, n := range nodes {
		out[n.AvailabilityZone] = append(out[n.AvailabilityZone], n)
	}
	if len(out) == 0 {
		out[s.cfg.DefaultAZ] = nil
	}
	return out, nil
}

func lastSegment(ref string) string {
	ref = strings.TrimRight(ref, "/")
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

var hostnameBad = regexp.MustCompile(`[^a-z0-9-]+`)

func hostnameOf(name string) string {
	h := hostnameBad.ReplaceAllString(strings.ToLower(name), "-")
	h = strings.Trim(h, "-")
	if len(h) > 63 {
		h = h[:63]
	}
	if h == "" {
		h = "server"
	}
	return h
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func dedupe(in []string) []string {
	out := []string{}
	for _, v := range in {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
