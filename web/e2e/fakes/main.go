// Command fakes runs the outside services the web interface's end-to-end
// tests need: a fake PenguinTech licence server that knows a professional
// and a community key, a fake WaddleAI gateway whose model answers
// every analysis task in the requested JSON shape and streams generated
// text word by word, an OpenID Connect provider that approves one user
// (oidc.go), and an SMTP receiver whose messages the control server
// lists (smtp.go).
//
// Usage:
//
//	fakes [-chunk-delay 60ms]   serve until SIGINT/SIGTERM; print the URLs as one JSON line
//
// While serving, a control server (control_url) lets the tests make the
// fakes misbehave:
//
//	POST /license/fail?status=503   the licence server answers 503 to everything
//	POST /license/ok                it answers normally again
//	POST /waddleai/fault?name=NAME  the next chat request fails (mid-stream-error,
//	                                unavailable, overloaded, ...; waddleaitest.Fault names)
//	POST /oidc/deny?error=CODE      the OpenID Connect provider refuses sign-ins
//	POST /oidc/ok                   it approves its user again
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rookery/rookery/internal/sso/ssotest"
	"github.com/rookery/rookery/license/licensetest"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakes:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fakes", flag.ContinueOnError)
	chunkDelay := fs.Duration("chunk-delay", 60*time.Millisecond, "wait before each streamed word, so streaming can be seen")
	if err := fs.Parse(args); err != nil {
		return err
	}

	lic := licensetest.NewServer(
		licensetest.Professional(licensetest.KeyProfessional),
		licensetest.Community(licensetest.KeyCommunity),
	)
	defer lic.Close()
	ai := waddleaitest.NewServer(waddleaitest.WithResponder(model))
	defer ai.Close()
	ai.SetChunkDelay(*chunkDelay)

	idp := startOIDC()
	defer idp.Close()

	smtp, err := startSMTP()
	if err != nil {
		return err
	}
	defer smtp.Close()

	ctl := httptest.NewServer(withSMTP(control(lic, ai, idp), smtp))
	defer ctl.Close()

	info := map[string]string{
		"control_url":       ctl.URL,
		"license_url":       lic.URL,
		"license_key_pro":   licensetest.KeyProfessional,
		"license_key_comm":  licensetest.KeyCommunity,
		"waddleai_url":      ai.URL,
		"waddleai_api_key":  ai.APIKey(),
		"waddleai_model":    waddleaitest.DefaultModel,
		"license_product":   licensetest.Product,
		"chunk_delay_milli": fmt.Sprint(chunkDelay.Milliseconds()),
	}
	for k, v := range oidcInfo(idp) {
		info[k] = v
	}
	for k, v := range smtpInfo(smtp) {
		info[k] = v
	}
	if err := json.NewEncoder(out).Encode(info); err != nil {
		return fmt.Errorf("print URLs: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// control lets the tests switch the fakes' failures on and off.
func control(lic *licensetest.Server, ai *waddleaitest.Server, idp *ssotest.Provider) http.Handler {
	faults := map[string]waddleaitest.Fault{}
	for f := waddleaitest.FaultNone; f <= waddleaitest.FaultHangUp; f++ {
		faults[f.String()] = f
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /license/fail", func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil || status < 400 || status > 599 {
			http.Error(w, "status must be an HTTP error status", http.StatusBadRequest)
			return
		}
		lic.Fail(status)
	})
	mux.HandleFunc("POST /license/ok", func(w http.ResponseWriter, r *http.Request) {
		lic.Fail(0)
	})
	mux.HandleFunc("POST /waddleai/fault", func(w http.ResponseWriter, r *http.Request) {
		f, ok := faults[r.URL.Query().Get("name")]
		if !ok {
			http.Error(w, "unknown fault", http.StatusBadRequest)
			return
		}
		ai.FailNext(f)
	})
	oidcControl(mux, idp)
	return mux
}

var (
	negative = regexp.MustCompile(`(?i)\b(bad|terrible|awful|broken|hate|slow|angry)\b`)
	german   = regexp.MustCompile(`(?i)\b(der|die|das|und|ist|nicht)\b`)
	capWords = regexp.MustCompile(`\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*`)
)

// model stands in for the language model behind the gateway: it answers
// each analysis instruction with a plausible result in the shape asked
// for, and anything else with a short reply that quotes the prompt.
func model(r waddleaitest.Request) string {
	sys, text := r.System(), r.LastUser()
	if !strings.HasPrefix(sys, "You are a text analysis service.") {
		return "You asked: " + text + "\n\nHere is a short answer. rookery relays it from the gateway word by word, so you can read it while it is written."
	}
	var v any
	switch {
	case strings.Contains(sys, "sentiment"):
		label, score := "positive", 0.92
		if negative.MatchString(text) {
			label, score = "negative", 0.88
		}
		v = map[string]any{"label": label, "score": score}
	case strings.Contains(sys, "Classify"):
		v = map[string]any{"label": "technical support", "score": 0.81}
	case strings.Contains(sys, "Summarise"):
		first, _, _ := strings.Cut(strings.TrimSpace(text), ".")
		v = map[string]any{"summary": first + "."}
	case strings.Contains(sys, "named entities"):
		ents := []map[string]string{}
		for _, m := range capWords.FindAllString(text, -1) {
			typ := "OTHER"
			if strings.Contains(m, " ") {
				typ = "PERSON"
			}
			ents = append(ents, map[string]string{"text": m, "type": typ})
		}
		v = map[string]any{"entities": ents}
	case strings.Contains(sys, "language"):
		code := "en"
		if german.MatchString(text) {
			code = "de"
		}
		v = map[string]any{"language": code, "confidence": 0.97}
	default:
		v = map[string]any{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
