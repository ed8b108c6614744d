// Command hello is a small application built on rookery: one setting of
// its own, hello_greeting, and one route, GET /api/v1/hello, for any
// signed-in user. Everything else (sign-in, the config API and settings
// page where hello_greeting shows up, licence gating, logs, the command
// line) comes from rookery.
//
//	go run ./examples/hello serve
package main

import (
	"net/http"

	"github.com/rookery/rookery"
	"github.com/rookery/rookery/config"
)

// greeting is declared once, typed; Get reads the current value, so a
// change through the config API applies to the next request.
var greeting = config.String("hello_greeting", config.System, config.Default("hello"),
	config.Describe("What GET /api/v1/hello answers"))

func newApp() *rookery.App {
	app := rookery.New(rookery.Options{Name: "hello", Version: "1.0.0", Keys: []config.Decl{greeting}})
	app.HandleFunc("GET /api/v1/hello", func(w http.ResponseWriter, r *http.Request) {
		rookery.WriteJSON(w, http.StatusOK, map[string]string{"greeting": greeting.Get()})
	}, rookery.SignedIn())
	return app
}

func main() { newApp().Execute() }
