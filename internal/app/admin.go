package app

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/gureum/gureum/internal/config"
	"github.com/gureum/gureum/internal/identity"
	"github.com/gureum/gureum/internal/store"
)

// OpenStore opens (and migrates) the configured database.
func OpenStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	return store.Open(ctx, cfg.Database, cfg.DataDir)
}

func identityFor(db *store.DB, cfg config.Config, log *slog.Logger) *identity.Service {
	return identity.New(store.NewIdentity(db), identity.Config{
		TokenTTL:              cfg.Identity.TokenExpiration,
		BcryptCost:            cfg.Identity.BcryptCost,
		MaxActiveKeys:         cfg.Identity.MaxActiveKeys,
		LockoutAttempts:       cfg.Identity.LockoutFailureAttempts,
		LockoutDuration:       cfg.Identity.LockoutDuration,
		AuthFailuresPerMinute: cfg.Identity.AuthFailuresPerMinute,
		Region:                cfg.Region,
	}, log)
}

// RotateKeys rotates the Fernet keys in the store; every server sees the
// new set within its key refresh interval.
func RotateKeys(ctx context.Context, cfg config.Config, log *slog.Logger) ([]identity.FernetKey, error) {
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return identityFor(db, cfg, log).RotateKeys(ctx)
}

// Bootstrap runs the bootstrap with given values and writes clouds.yaml
// when it created the admin user.
func Bootstrap(ctx context.Context, cfg config.Config, log *slog.Logger, user, password, project string) (bool, error) {
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer db.Close()
	created, err := identityFor(db, cfg, log).Bootstrap(ctx, identity.BootstrapOptions{
		AdminUser: user, AdminPassword: password, AdminProject: project, Region: cfg.Region, Services: catalogDefs(cfg.AdvertiseURL),
	})
	if err != nil || !created {
		return created, err
	}
	return true, WriteCloudsYAML(filepath.Join(cfg.DataDir, "clouds.yaml"), cfg.AdvertiseURL, cfg.Region, user, password, project)
}
