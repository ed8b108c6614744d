// Package mailtest runs a real SMTP server in process (emersion/go-smtp)
// for tests: plain, STARTTLS or implicit TLS with a certificate made for
// the test, optional AUTH PLAIN, recipients it refuses, and an outage
// that can be switched on and off on the same port.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The values of Options.TLS.
const (
	Plain    = ""
	StartTLS = "starttls"
	Implicit = "tls"
)

// Options shape the server.
type Options struct {
	// TLS is Plain, StartTLS or Implicit.
	TLS string
	// User and Pass, when User is set, are required through AUTH PLAIN
	// before any message is accepted.
	User, Pass string
	// Addr is where to listen; "" takes a free port on 127.0.0.1.
	Addr string
}

// Received is one message the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	// Header is the parsed header of Data.
	Header mail.Header
	// Body is the raw body after the header.
	Body string
	// TLS says whether the connection was encrypted when it arrived.
	TLS bool
}

// Parts returns the decoded text of each part by media type
// ("text/plain", "text/html"); a single-part message gives one entry.
func (r Received) Parts() map[string]string {
	out := map[string]string{}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return out
	}
	if !strings.HasPrefix(mt, "multipart/") {
		out[mt] = decodePart(r.Header.Get("Content-Transfer-Encoding"), strings.NewReader(r.Body))
		return out
	}
	mr := multipart.NewReader(strings.NewReader(r.Body), params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return out
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[pt] = decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

func decodePart(encoding string, r io.Reader) string {
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(r)
	return string(b)
}

// Subject is the message's decoded Subject.
func (r Received) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(r.Header.Get("Subject"))
	if err != nil {
		return r.Header.Get("Subject")
	}
	return s
}

// Server is a running SMTP server.
type Server struct {
	opts Options
	// Host and Port are where it listens; CA holds the authority of its
	// certificate, for the client's RootCAs.
	Host string
	Port int
	CA   *x509.CertPool
	cert tls.Certificate

	mu     sync.Mutex
	msgs   []Received
	srv    *smtp.Server
	l      net.Listener
	down   bool
	notify chan struct{}
}

// Start starts a server; Close stops it.
func Start(o Options) (*Server, error) {
	cert, pool, err := testCertificate()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, CA: pool, cert: cert, notify: make(chan struct{})}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp test server: listen: %w", err)
	}
	tcp := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = tcp.IP.String(), tcp.Port
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = s.opts.TLS == Plain
	tlsConf := &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	switch s.opts.TLS {
	case StartTLS:
		srv.TLSConfig = tlsConf
	case Implicit:
		l = tls.NewListener(l, tlsConf)
	}
	s.mu.Lock()
	s.srv, s.l, s.down = srv, l, false
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
	return nil
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, fmt.Sprint(s.Port)) }

// SetDown stops listening (connections are refused) or listens again on
// the same port.
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	srv, l, was := s.srv, s.l, s.down
	s.mu.Unlock()
	if down == was {
		return nil
	}
	if down {
		s.mu.Lock()
		s.down = true
		s.mu.Unlock()
		// The listener is closed here too: Serve may not have taken it yet.
		_ = l.Close()
		if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
	return s.listen(s.Addr())
}

// Close stops the server.
func (s *Server) Close() error { return s.SetDown(true) }

// Messages returns what was accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Reset forgets the accepted messages.
func (s *Server) Reset() {
	s.mu.Lock()
	s.msgs = nil
	s.mu.Unlock()
}

// WaitFor waits until at least n messages were accepted, or timeout.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Received, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.notify
		s.mu.Unlock()
		if got >= n {
			return s.Messages(), nil
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Messages(), fmt.Errorf("smtp test server: %d message(s) after %s, want %d", got, timeout, n)
		}
	}
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	s.msgs = append(s.msgs, r)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

// session is one connection's transaction.
type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && !ss.authed {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

// Rcpt refuses every address whose local part starts with "refused".
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(strings.ToLower(to), "refused") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unreadable message"}
	}
	body, _ := io.ReadAll(m.Body)
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.add(Received{From: ss.from, To: append([]string(nil), ss.to...), Data: b, Header: m.Header, Body: string(body), TLS: isTLS})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// testCertificate makes a self-signed certificate for 127.0.0.1, ::1 and
// localhost, and a pool that trusts it.
func testCertificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rookery SMTP test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}, pool, nil
}
