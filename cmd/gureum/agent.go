package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/gureum/gureum/internal/agent"
	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/bus"
	"github.com/gureum/gureum/internal/platform/logging"
)

// cmdAgent runs a compute node agent that reaches the controller over the
// server's NATS (--nats-url): the same code the all-in-one server runs
// in-process.
func cmdAgent(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, ok := loadConfig(fs, args, stderr)
	if !ok {
		return 2
	}
	if cfg.Compute.NATSURL == "" {
		fmt.Fprintln(stderr, "gureum agent: --nats-url (or compute.nats_url) is required: the server's bus, e.g. nats://controller:4222")
		return 2
	}
	log := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		fmt.Fprintln(stderr, "gureum agent:", err)
		return 1
	}
	nc, err := bus.Dial(ctx, cfg.Compute.NATSURL, nats.Name("gureum-agent-"+app.NodeName(cfg)), nats.MaxReconnects(-1))
	if err != nil {
		fmt.Fprintln(stderr, "gureum agent:", err)
		return 1
	}
	defer nc.Close()
	drv, err := app.NewComputeDriver(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "gureum agent:", err)
		return 1
	}
	ag := agent.New(nc, drv, app.AgentOptions(cfg, log))
	if err := ag.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "gureum agent:", err)
		return 1
	}
	log.Info("gureum agent running", "node", app.NodeName(cfg), "nats", cfg.Compute.NATSURL)
	<-ctx.Done()
	ag.Wait()
	return 0
}
