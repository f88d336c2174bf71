// Command gureum is the whole cloud: `gureum server` runs the APIs, the
// controllers and (all-in-one) the node agent; `gureum admin` holds the
// operator's tools; `gureum version` prints the version.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gureum/gureum/internal/app"
	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/platform/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: gureum <command> [flags]

commands:
  server                 run the all-in-one cloud
  agent                  run a compute node agent (--nats-url of the server's bus)
  admin bootstrap        create the admin user, project, roles and catalog
  admin migrate          apply database migrations and exit
  admin rotate-keys      rotate the Fernet token keys
  version                print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "server":
		return cmdServer(args[1:], stdout, stderr)
	case "agent":
		return cmdAgent(args[1:], stdout, stderr)
	case "admin":
		return cmdAdmin(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gureum", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gureum: unknown command %q\n%s", args[0], usage)
	return 2
}

// loadConfig applies defaults, the config file, the environment and flags.
func loadConfig(fs *flag.FlagSet, args []string, stderr io.Writer) (config.Config, bool) {
	cfg := config.Default()
	file := fs.String("config", os.Getenv("GUREUM_CONFIG"), "YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory (default /var/lib/gureum)")
	listen := fs.String("listen", "", "API listen address (default 127.0.0.1:8774)")
	advertise := fs.String("advertise-url", "", "URL clients reach the API at")
	database := fs.String("database", "", "database DSN: empty for SQLite in the data directory, or postgres://…")
	natsURL := fs.String("nats-url", "", "external NATS for the compute bus (nats://host:4222); empty embeds one")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, false
	}
	if *file != "" {
		if err := cfg.LoadFile(*file); err != nil {
			fmt.Fprintln(stderr, "gureum:", err)
			return cfg, false
		}
	}
	cfg.LoadEnv(os.Getenv)
	for dst, v := range map[*string]string{&cfg.DataDir: *dataDir, &cfg.Listen: *listen, &cfg.AdvertiseURL: *advertise, &cfg.Database: *database, &cfg.Log.Level: *logLevel, &cfg.Compute.NATSURL: *natsURL} {
		if v != "" {
			*dst = v
		}
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "gureum:", err)
		return cfg, false
	}
	return cfg, true
}

func cmdServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, ok := loadConfig(fs, args, stderr)
	if !ok {
		return 2
	}
	log := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "gureum:", err)
		return 1
	}
	defer a.Close()
	if a.AdminPassword != "" {
		fmt.Fprintf(stdout, `
A new cloud was bootstrapped. Credentials for the admin user are in
  %[1]s/clouds.yaml
Use them with the openstack CLI:
  OS_CLIENT_CONFIG_FILE=%[1]s/clouds.yaml openstack --os-cloud gureum token issue

`, cfg.DataDir)
	}
	log.Info("gureum serving", "url", a.URL(), "data_dir", cfg.DataDir, "version", version)
	if err := a.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, "gureum:", err)
		return 1
	}
	log.Info("gureum stopped")
	return 0
}

func cmdAdmin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var password, project, user *string
	if args[0] == "bootstrap" {
		user = fs.String("admin-user", "admin", "admin user name")
		password = fs.String("admin-password", "", "admin password (required)")
		project = fs.String("admin-project", "admin", "admin project name")
	}
	cfg, ok := loadConfig(fs, args[1:], stderr)
	if !ok {
		return 2
	}
	log := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	ctx := context.Background()
	switch args[0] {
	case "migrate":
		db, err := app.OpenStore(ctx, cfg)
		if err != nil {
			fmt.Fprintln(stderr, "gureum:", err)
			return 1
		}
		db.Close()
		fmt.Fprintln(stdout, "migrations applied")
		return 0
	case "rotate-keys":
		keys, err := app.RotateKeys(ctx, cfg, log)
		if err != nil {
			fmt.Fprintln(stderr, "gureum:", err)
			return 1
		}
		fmt.Fprintf(stdout, "rotated: %d keys (staged 0, primary %d)\n", len(keys), keys[len(keys)-1].Index)
		return 0
	case "bootstrap":
		if *password == "" {
			fmt.Fprintln(stderr, "gureum: --admin-password is required")
			return 2
		}
		created, err := app.Bootstrap(ctx, cfg, log, *user, *password, *project)
		if err != nil {
			fmt.Fprintln(stderr, "gureum:", err)
			return 1
		}
		if created {
			fmt.Fprintf(stdout, "bootstrapped user %s; clouds.yaml written to %s/clouds.yaml\n", *user, cfg.DataDir)
		} else {
			fmt.Fprintf(stdout, "user %s exists; catalog refreshed\n", *user)
		}
		return 0
	}
	fmt.Fprintf(stderr, "gureum: unknown admin command %q\n%s", args[0], usage)
	return 2
}
