package ipp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// ContentType is the media type of IPP messages over HTTP (RFC 8010 4).
const ContentType = "application/ipp"

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds what is read of an answer: a scheduler's largest
// answers (every attribute of a printer, a long job list) are tens of
// kilobytes.
const maxResponse = 16 << 20

// Client sends IPP requests to one server over HTTP.
type Client struct {
	// Server is "host:port", or the path of the scheduler's Unix socket
	// (starting with "/"), where it knows who is asking from the socket's
	// peer credentials.
	Server string
	// User is who the requests are from: requesting-user-name, and the user
	// a Unix socket connection authenticates as.
	User string

	http *http.Client
	seq  atomic.Uint32
}

// NewClient returns a client of the server at addr ("localhost:631" or
// "/run/cups/cups.sock") sending requests as user.
func NewClient(addr, user string) *Client {
	c := &Client{Server: addr, User: user}
	tr := &http.Transport{
		// A proxy from the environment has no business between the kiosk
		// and its own scheduler.
		Proxy:               nil,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	if c.unix() {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
	}
	c.http = &http.Client{Transport: tr}
	return c
}

func (c *Client) unix() bool { return strings.HasPrefix(c.Server, "/") }

// URI is the ipp: URI of a resource on the server, such as
// "/printers/borne", as attributes like printer-uri name it.
func (c *Client) URI(path string) string {
	if c.unix() {
		return "ipp://localhost" + path
	}
	return "ipp://" + c.Server + path
}

// Close drops the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Do sends req, followed by doc when it is not nil, to the resource at path
// ("/", "/printers/borne", "/jobs") and decodes the answer. It gives up
// when ctx is done. An answer with an error status comes back as a
// *StatusError, along with the decoded response.
func (c *Client) Do(ctx context.Context, path string, req *Message, doc []byte) (*Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A scheduler that accepts a connection and never answers must not
		// hold a caller that forgot its deadline forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req.RequestID = c.seq.Add(1)
	body, err := req.AppendBinary(make([]byte, 0, 512+len(doc)))
	if err != nil {
		return nil, err
	}
	body = append(body, doc...)
	host := c.Server
	if c.unix() {
		host = "localhost"
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", ContentType)
	if c.unix() && c.User != "" {
		// The scheduler checks this name against the socket's peer: the
		// way a local program proves who it is without a password.
		hr.Header.Set("Authorization", "PeerCred "+c.User)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, &ConnError{Server: c.Server, Op: req.Op(), Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{Server: c.Server, Op: req.Op(), Code: resp.StatusCode}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, ContentType) {
		return nil, fmt.Errorf("%s: %s answered with %q, not IPP", req.Op(), c.Server, ct)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &ConnError{Server: c.Server, Op: req.Op(), Err: unwrapURL(err)}
	}
	m, _, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: the answer from %s: %w", req.Op(), c.Server, err)
	}
	if !m.Status().OK() {
		return m, &StatusError{Op: req.Op(), Status: m.Status(), Message: m.StatusMessage()}
	}
	return m, nil
}

// unwrapURL drops the "Post http://…" wrapping: the URL is the scheduler's
// address, already in the message, and a made-up one for a Unix socket.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ConnError is a request that got no answer: the server is not listening,
// went away mid-request, or ctx ended first.
type ConnError struct {
	Server string
	Op     Op
	Err    error
}

func (e *ConnError) Error() string {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s: no answer from %s in time", e.Op, e.Server)
	}
	return fmt.Sprintf("%s: no answer from %s: %v", e.Op, e.Server, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// HTTPError is an answer that was not an IPP message: most often 401,
// when the server wants the user authenticated for this operation.
type HTTPError struct {
	Server string
	Op     Op
	Code   int
}

func (e *HTTPError) Error() string {
	if e.Code == http.StatusUnauthorized {
		return fmt.Sprintf("%s: %s wants the user authenticated for this", e.Op, e.Server)
	}
	return fmt.Sprintf("%s: %s answered HTTP %d %s", e.Op, e.Server, e.Code, http.StatusText(e.Code))
}

// StatusError is an IPP answer with an error status.
type StatusError struct {
	Op      Op
	Status  Status
	Message string // the server's status-message
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Op, e.Message, e.Status)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Status)
}

// IsStatus tells whether err is an IPP answer with status s.
func IsStatus(err error, s Status) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == s
}

// IsDenied tells whether err says the user may not do this: an HTTP 401 or
// 403, or an IPP forbidden / not-authenticated / not-authorized status.
func IsDenied(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Code == http.StatusUnauthorized || he.Code == http.StatusForbidden
	}
	return IsStatus(err, StatusForbidden) || IsStatus(err, StatusNotAuthenticated) || IsStatus(err, StatusNotAuthorized)
}

// IsUnreachable tells whether err is a request that got no answer.
func IsUnreachable(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce)
}
