package collect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
)

// A token is 32 random bytes: a SHA-256 of it is as safe to keep as a slow
// password hash would be, and cheap enough to check on every batch.
const tokenBytes = 32

var siteID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// CheckSite says whether site can be a kiosk's site.id.
func CheckSite(site string) error {
	if !siteID.MatchString(site) {
		return fmt.Errorf("%q is not a site id (letters, digits, '.', '_', '-'; at most 64), as in the kiosk's site.id", site)
	}
	return nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// AddToken makes a new token for site, keeps its hash, and returns the
// token: it is shown once and never kept.
func (s *Store) AddToken(ctx context.Context, site string) (string, error) {
	if err := CheckSite(site); err != nil {
		return "", err
	}
	b := make([]byte, tokenBytes)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO tokens (hash, site, created) VALUES (?, ?, ?)`), hashToken(token), site, s.now().Unix())
	if err != nil {
		return "", s.describe("keeping the token", err)
	}
	return token, nil
}

// RevokeTokens removes every token of site and returns how many there were.
func (s *Store) RevokeTokens(ctx context.Context, site string) (int, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM tokens WHERE site = ?`), site)
	if err != nil {
		return 0, s.describe("revoking tokens", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// errNoToken is a token the collector does not know (or revoked).
var errNoToken = errors.New("unknown token")

// TokenSite returns the site a token posts for.
func (s *Store) TokenSite(ctx context.Context, token string) (string, error) {
	var site string
	err := s.r.QueryRowContext(ctx, s.q(`SELECT site FROM tokens WHERE hash = ?`), hashToken(token)).Scan(&site)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoToken
	}
	if err != nil {
		return "", s.describe("checking a token", err)
	}
	return site, nil
}
