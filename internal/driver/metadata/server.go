package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Address is where guests find the metadata service.
const Address = "169.254.169.254"

// Source maps a caller on a network to its instance. The compute side
// implements it; it returns an errs NotFound error when no port of the
// network has that fixed IP.
type Source interface {
	InstanceByIP(ctx context.Context, networkID string, ip netip.Addr) (*Instance, error)
}

// Handler serves the metadata tree of one network: the caller is identified
// by its source address, which only guests on that network can use (the
// server listens inside the network's qdhcp namespace).
type Handler struct {
	Source    Source
	NetworkID string
	Log       *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if len(r.URL.Path) > 512 {
		http.NotFound(w, r)
		return
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
		return
	}
	p := strings.Trim(r.URL.Path, "/")
	if p == "" {
		writeList(w, append(append([]string{}, EC2Versions...), "openstack"))
		return
	}
	if p == "openstack" {
		writeList(w, OpenStackVersions)
		return
	}
	in, err := h.Source.InstanceByIP(r.Context(), h.NetworkID, ap.Addr().Unmap())
	if err != nil {
		if errs.Is(err, errs.KindNotFound) {
			http.NotFound(w, r)
			return
		}
		if h.Log != nil {
			h.Log.Error("metadata lookup", "network", h.NetworkID, "ip", ap.Addr(), "err", err)
		}
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	parts := strings.Split(p, "/")
	if parts[0] == "openstack" {
		h.openstack(w, r, in, parts[1:])
		return
	}
	h.ec2(w, r, in, parts)
}

func (h *Handler) openstack(w http.ResponseWriter, r *http.Request, in *Instance, parts []string) {
	if !known(OpenStackVersions, parts[0]) {
		http.NotFound(w, r)
		return
	}
	files := Files(in)
	dir := "openstack/" + parts[0] + "/"
	if len(parts) == 1 {
		var names []string
		for _, n := range []string{"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"} {
			if _, ok := files[dir+n]; ok {
				names = append(names, n)
			}
		}
		writeList(w, names)
		return
	}
	b, ok := files[dir+strings.Join(parts[1:], "/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".json") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.Write(b)
}

func (h *Handler) ec2(w http.ResponseWriter, r *http.Request, in *Instance, parts []string) {
	if !known(EC2Versions, parts[0]) {
		http.NotFound(w, r)
		return
	}
	if len(parts) == 1 {
		l := []string{"meta-data/"}
		if in.UserData != nil {
			l = append(l, "user-data")
		}
		writeList(w, l)
		return
	}
	switch parts[1] {
	case "user-data":
		if in.UserData == nil || len(parts) > 2 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(in.UserData)
		return
	case "meta-data":
	default:
		http.NotFound(w, r)
		return
	}
	var node any = EC2MetaData(in)
	rest := parts[2:]
	if len(rest) > 0 && rest[len(rest)-1] == "" {
		rest = rest[:len(rest)-1]
	}
	for i, seg := range rest {
		m, ok := node.(map[string]any)
		if !ok {
			http.NotFound(w, r)
			return
		}
		// public-keys/0=name is how EC2 lists keys; accept "0=name" too.
		if i > 0 && rest[i-1] == "public-keys" {
			seg, _, _ = strings.Cut(seg, "=")
		}
		if strings.HasPrefix(seg, "_") {
			http.NotFound(w, r)
			return
		}
		if node, ok = m[seg]; !ok {
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	switch v := node.(type) {
	case string:
		w.Write([]byte(v))
	case map[string]any:
		var names []string
		public := len(rest) > 0 && rest[len(rest)-1] == "public-keys"
		for _, k := range sortedKeys(v) {
			if strings.HasPrefix(k, "_") {
				continue
			}
			switch {
			case public:
				name, _ := v[k].(map[string]any)["_name"].(string)
				names = append(names, k+"="+name)
			case isDir(v[k]):
				names = append(names, k+"/")
			default:
				names = append(names, k)
			}
		}
		writeList(w, names)
	}
}

func isDir(v any) bool { _, ok := v.(map[string]any); return ok }

func known(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func writeList(w http.ResponseWriter, l []string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(strings.Join(l, "\n")))
}

// NamespaceRunner runs a function inside a named network namespace
// (*netns.Manager does).
type NamespaceRunner interface {
	Do(name string, fn func() error) error
}

// Server runs one metadata listener per network, each inside the network's
// namespace on 169.254.169.254:<Port>. It implements the dnsmasq driver's
// namespace hook. Listeners live in this process: after a restart the
// agent's reconcile (which re-ensures every network) starts them again.
type Server struct {
	Source Source
	NS     NamespaceRunner
	Port   int // 80 unless a test says otherwise
	Log    *slog.Logger

	mu   sync.Mutex
	srvs map[string]*http.Server
}

// Attach starts serving the network's metadata inside namespace ns
// (idempotent).
func (s *Server) Attach(ctx context.Context, ns, networkID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.srvs[networkID]; ok {
		return nil
	}
	port := s.Port
	if port == 0 {
		port = 80
	}
	var ln net.Listener
	err := s.NS.Do(ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf("%s:%d", Address, port))
		return err
	})
	if err != nil {
		return fmt.Errorf("metadata: listen in %s: %w", ns, err)
	}
	srv := &http.Server{
		Handler:           &Handler{Source: s.Source, NetworkID: networkID, Log: s.Log},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && s.Log != nil {
			s.Log.Error("metadata server", "network", networkID, "err", err)
		}
	}()
	if s.srvs == nil {
		s.srvs = map[string]*http.Server{}
	}
	s.srvs[networkID] = srv
	return nil
}

// Detach stops serving the network (idempotent).
func (s *Server) Detach(ctx context.Context, networkID string) error {
	s.mu.Lock()
	srv := s.srvs[networkID]
	delete(s.srvs, networkID)
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Close stops every listener.
func (s *Server) Close() {
	s.mu.Lock()
	srvs := s.srvs
	s.srvs = nil
	s.mu.Unlock()
	for _, srv := range srvs {
		srv.Close()
	}
}
