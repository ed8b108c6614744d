package app

import (
	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/waddleai"
)

func aiConfig(k config.WaddleAISettings) waddleai.Config {
	return waddleai.Config{
		BaseURL: k.URL.Get(),
		APIKey:  k.APIKey.Get(),
		Timeout: k.Timeout.Get(),
		Model:   k.Model.Get(),
	}
}

// startAI builds the WaddleAI client from the snapshot and follows its
// keys, so the next request after a change uses the new gateway.
func (a *App) startAI() error {
	cfg := aiConfig(a.Keys.WaddleAI)
	c, err := waddleai.New(cfg.BaseURL, cfg.APIKey.Reveal(), waddleai.WithTimeout(cfg.Timeout), waddleai.WithModel(cfg.Model),
		waddleai.WithLogger(a.Log), waddleai.WithUserAgent("rookery"), waddleai.WithHTTPClient(a.tracedClient()))
	if err != nil {
		return err
	}
	a.AI = c
	a.cancels = append(a.cancels, a.Config.Follow(func() {
		if err := c.Update(aiConfig(a.Keys.WaddleAI)); err != nil {
			a.Log.Warn("WaddleAI settings refused; keeping the previous ones", "error", err.Error())
		}
	}))
	return nil
}
