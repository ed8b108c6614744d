package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/rookery/rookery/internal/mail/mailtest"
)

// The SMTP receiver takes every message rookery sends (plain SMTP on
// loopback, so rookery runs with smtp_tls=none) and the control server
// shows them:
//
//	GET  /smtp/messages   the received messages as JSON, oldest first
//	POST /smtp/reset      forget them
//	POST /smtp/down       refuse connections (SetDown)
//	POST /smtp/up         accept them again

func startSMTP() (*mailtest.Server, error) {
	return mailtest.Start(mailtest.Options{})
}

func smtpInfo(srv *mailtest.Server) map[string]string {
	return map[string]string{"smtp_host": srv.Host, "smtp_port": fmt.Sprint(srv.Port)}
}

// receivedMessage is one message as the tests read it.
type receivedMessage struct {
	From      string   `json:"from"`
	To        []string `json:"to"`
	Subject   string   `json:"subject"`
	MessageID string   `json:"message_id"`
	Text      string   `json:"text"`
	HTML      string   `json:"html"`
}

// withSMTP serves the receiver's routes in front of the other controls.
func withSMTP(next http.Handler, srv *mailtest.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /smtp/messages", func(w http.ResponseWriter, r *http.Request) {
		out := []receivedMessage{}
		for _, m := range srv.Messages() {
			parts := m.Parts()
			out = append(out, receivedMessage{From: m.From, To: m.To, Subject: m.Subject(), MessageID: m.Header.Get("Message-Id"),
				Text: parts["text/plain"], HTML: parts["text/html"]})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": out})
	})
	mux.HandleFunc("POST /smtp/reset", func(w http.ResponseWriter, r *http.Request) { srv.Reset() })
	mux.HandleFunc("POST /smtp/{state}", func(w http.ResponseWriter, r *http.Request) {
		state := r.PathValue("state")
		if state != "down" && state != "up" {
			http.Error(w, "use /smtp/down or /smtp/up", http.StatusNotFound)
			return
		}
		if err := srv.SetDown(state == "down"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/smtp/") {
			mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
