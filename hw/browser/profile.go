package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const profilePrefix = "call-"

// DefaultProfileRoot is where the calls' profiles live: borne-browser in
// the kiosk user's runtime folder ($XDG_RUNTIME_DIR, a tmpfs only the user
// can enter), or, without one, borne-browser-<uid> in the temporary folder
// (os.TempDir), made 0700 and checked to be the user's own.
func DefaultProfileRoot() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "borne-browser")
	}
	return filepath.Join(os.TempDir(), "borne-browser-"+strconv.Itoa(os.Getuid()))
}

// root makes sure the profiles' folder exists, is a folder of this user's
// that no one else can enter.
func (s *Sessions) root() error {
	root := s.o.ProfileRoot
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("browser profiles: %w", err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("browser profiles: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("browser profiles: %s is not a folder", root)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("browser profiles: %s belongs to another user (uid %d)", root, st.Uid)
	case fi.Mode().Perm() != 0o700:
		if err := os.Chmod(root, 0o700); err != nil {
			return fmt.Errorf("browser profiles: %w", err)
		}
	}
	return nil
}

// newProfile makes the empty, private profile folder of one call.
func (s *Sessions) newProfile() (string, error) {
	if err := s.root(); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(s.o.ProfileRoot, profilePrefix)
	if err != nil {
		return "", fmt.Errorf("browser profile: %w", err)
	}
	return dir, nil
}

// remove deletes a call's profile and everything in it.
func (s *Sessions) remove(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		s.o.Log.Error("browser profile not deleted", "dir", dir, "err", err)
	}
}

// sweep deletes every profile left by a shell that stopped mid-call.
func (s *Sessions) sweep() error {
	if err := s.root(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.o.ProfileRoot)
	if err != nil {
		return fmt.Errorf("browser profiles: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), profilePrefix) {
			s.o.Log.Warn("deleting a browser profile left by an earlier run", "dir", e.Name())
			s.remove(filepath.Join(s.o.ProfileRoot, e.Name()))
		}
	}
	return nil
}
