package app

import (
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/waddleai"
)

var aiKeys = []string{"waddleai_url", "waddleai_api_key", "waddleai_timeout", "waddleai_model"}

func aiConfig(c *config.Config) waddleai.Config {
	return waddleai.Config{
		BaseURL: c.String("waddleai_url"),
		APIKey:  c.Secret("waddleai_api_key"),
		Timeout: time.Duration(c.Int("waddleai_timeout")) * time.Second,
		Model:   c.String("waddleai_model"),
	}
}

// startAI builds the WaddleAI client from the snapshot and follows its
// keys, so the next request after a change uses the new gateway.
func (a *App) startAI() error {
	cfg := aiConfig(a.Config)
	c, err := waddleai.New(cfg.BaseURL, cfg.APIKey.Reveal(), waddleai.WithTimeout(cfg.Timeout), waddleai.WithModel(cfg.Model),
		waddleai.WithLogger(a.Log), waddleai.WithUserAgent("rookery"))
	if err != nil {
		return err
	}
	a.AI = c
	a.cancels = append(a.cancels, a.Config.Subscribe(func(config.Change) {
		if err := c.Update(aiConfig(a.Config)); err != nil {
			a.Log.Warn("WaddleAI settings refused; keeping the previous ones", "error", err.Error())
		}
	}, aiKeys...))
	return nil
}
