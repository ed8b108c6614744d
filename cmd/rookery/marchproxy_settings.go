package main

import (
	"context"
	"os"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/marchproxy"
)

// loadMarchProxySettings reads the marchproxy_* keys and app_name from the
// config database.
func loadMarchProxySettings(ctx context.Context) (marchproxy.CLISettings, error) {
	core, err := openCore(ctx)
	if err != nil {
		return marchproxy.CLISettings{}, err
	}
	defer core.Close()
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return marchproxy.CLISettings{}, err
	}
	return app.MarchProxySettings(core.Config, s), nil
}
