package mail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
)

// Kind is what a message is for; the outbox lists it.
type Kind string

// The kinds of message rookery sends.
const (
	KindReset         Kind = "reset"
	KindInvitation    Kind = "invitation"
	KindLicenceExpiry Kind = "licence-expiry"
	KindTest          Kind = "test"
)

// Data fills a message's template. Fields a kind does not use stay empty.
type Data struct {
	// AppName is app_name, named in the subject and the text.
	AppName string
	// Email is the recipient's account.
	Email string
	// Link is the one-time link (reset, invitation) or the page to visit.
	Link string
	// Valid says how long the link works ("1 hour", "72 hours").
	Valid string
	// DaysLeft and ExpiresAt describe the licence (licence-expiry).
	DaysLeft  int
	ExpiresAt string
}

//go:embed templates
var templateFiles embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFiles, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFiles, "templates/*.html"))
)

// subjects are the subjects of each kind, after "<app_name>: ".
var subjects = map[Kind]func(Data) string{
	KindReset:      func(Data) string { return "reset your password" },
	KindInvitation: func(Data) string { return "you are invited, choose your password" },
	KindLicenceExpiry: func(d Data) string {
		if d.DaysLeft == 1 {
			return "the licence expires tomorrow"
		}
		return fmt.Sprintf("the licence expires in %d days", d.DaysLeft)
	},
	KindTest: func(Data) string { return "test email" },
}

// Compose renders a message of kind to the address to: multipart text and
// HTML from the embedded templates, with app_name in the subject and a
// fresh Message-ID.
func Compose(kind Kind, to string, d Data) (Message, error) {
	subject, ok := subjects[kind]
	if !ok {
		return Message{}, fmt.Errorf("compose email: unknown kind %q", kind)
	}
	if d.AppName == "" {
		d.AppName = "rookery"
	}
	if d.Email == "" {
		d.Email = to
	}
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, string(kind)+".txt", d); err != nil {
		return Message{}, fmt.Errorf("compose %s email: %w", kind, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, string(kind)+".html", d); err != nil {
		return Message{}, fmt.Errorf("compose %s email: %w", kind, err)
	}
	return Message{Kind: kind, To: to, Subject: d.AppName + ": " + subject(d), Text: text.String(), HTML: html.String(),
		MessageID: NewMessageID()}, nil
}

// NewMessageID returns a random unique part for a Message-ID.
func NewMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	return "rookery." + hex.EncodeToString(b)
}
