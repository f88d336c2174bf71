package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/agent/fakedriver"
	"github.com/gureum/gureum/internal/agent/qemudriver"
	"github.com/gureum/gureum/internal/agentapi"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/compute"
	"github.com/gureum/gureum/internal/compute/computeapi"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/store"
)

// startCompute starts the bus, the compute controller and (all-in-one)
// the node agent, and returns the Nova API.
func (a *App) startCompute(ctx context.Context, db *store.DB) (*computeapi.API, error) {
	cfg := a.Config.Compute
	b, err := bus.Start(ctx, bus.Options{URL: cfg.NATSURL, Listen: cfg.NATSListen, Name: "gureum-server", Log: a.Log})
	if err != nil {
		return nil, err
	}
	a.Bus = b
	a.closers = append(a.closers, b.Close)
	q := cfg.Quota
	svc := compute.New(store.NewCompute(db), b.Conn(), a.computeImages(), a.computeSnapshots(), a.computeNetworks(), compute.Config{
		DefaultAZ: cfg.AvailabilityZone, TaskTimeout: cfg.TaskTimeout, AgentDownTime: cfg.AgentDownTime,
		CPURatio: cfg.CPUAllocationRatio, RAMRatio: cfg.RAMAllocationRatio, DiskRatio: cfg.DiskAllocationRatio,
		SnapshotDir: filepath.Join(a.Config.DataDir, "snapshots"),
		Quota: map[string]int{compute.QInstances: q.Instances, compute.QCores: q.Cores, compute.QRAM: q.RAM, compute.QKeyPairs: q.KeyPairs,
			compute.QServerGroups: q.ServerGroups, compute.QServerGroupMembers: q.ServerGroupMembers, compute.QMetadataItems: q.MetadataItems},
	}, a.Log)
	a.Compute = svc
	a.closers = append(a.closers, svc.Close)
	if err := svc.Bootstrap(ctx); err != nil {
		return nil, fmt.Errorf("compute bootstrap: %w", err)
	}
	if err := svc.StartController(ctx, 0); err != nil {
		return nil, err
	}
	if cfg.Agent {
		nc, err := b.Connect(ctx, "gureum-agent")
		if err != nil {
			return nil, err
		}
		drv, err := NewComputeDriver(a.Config, a.Log)
		if err != nil {
			nc.Close()
			return nil, err
		}
		actx, cancel := context.WithCancel(context.Background())
		ag := agent.New(nc, drv, AgentOptions(a.Config, a.Log))
		if err := ag.Start(actx); err != nil {
			cancel()
			nc.Close()
			return nil, err
		}
		a.Agent = ag
		a.closers = append(a.closers, func() {
			cancel()
			ag.Wait()
			nc.Close()
			if c, ok := drv.(interface{ Close() }); ok {
				c.Close()
			}
		})
	}
	return computeapi.New(svc), nil
}

// NodeName is this host's compute node name.
func NodeName(cfg config.Config) string {
	if cfg.Compute.NodeName != "" {
		return cfg.Compute.NodeName
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// AgentOptions are the node agent's options from the configuration.
func AgentOptions(cfg config.Config, log *slog.Logger) agent.Options {
	c := cfg.Compute
	return agent.Options{Node: NodeName(cfg), Hostname: NodeName(cfg), HostIP: hostIP(), AvailabilityZone: c.AvailabilityZone,
		Inventory:         agentapi.Inventory{VCPU: c.VCPUs, MemoryMB: c.MemoryMB, DiskGB: c.DiskGB},
		HeartbeatInterval: c.HeartbeatInterval, Log: log}
}

// NewComputeDriver returns the configured hypervisor driver.
func NewComputeDriver(cfg config.Config, log *slog.Logger) (agent.Driver, error) {
	switch cfg.Compute.Driver {
	case "fake":
		return fakedriver.New(detectInventory(cfg)), nil
	case "qemu":
		return qemudriver.New(qemudriver.Config{Dir: filepath.Join(cfg.DataDir, "compute"), Inventory: detectInventory(cfg), Grace: cfg.Compute.ShutdownTimeout, GuestNice: cfg.Compute.GuestNice, Log: log})
	}
	return nil, fmt.Errorf("compute driver %q is not available in this build", cfg.Compute.Driver)
}

// detectInventory measures the host: CPUs, memory from /proc/meminfo and
// the data directory's file system.
func detectInventory(cfg config.Config) agentapi.Inventory {
	inv := agentapi.Inventory{VCPU: runtime.NumCPU(), MemoryMB: 4096, DiskGB: 40}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil && kb > 0 {
			inv.MemoryMB = kb / 1024
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(cfg.DataDir, &st); err == nil {
		inv.DiskGB = int(st.Blocks * uint64(st.Bsize) >> 30)
	}
	return inv
}

func hostIP() string {
	conn, err := net.Dial("udp", "192.0.2.1:9")
	if err != nil {
		return "127.0.0.1"
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}
