package config

import (
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// remote checks [remote]. The keys are parsed here so that a typo in one
// is found by `borne config check`, not on the day a technician needs it.
func (v *validator) remote(c *Config) {
	r := &c.Remote
	if r.Listen != "" {
		host, port, err := net.SplitHostPort(r.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil || n < 1 || n > 65535:
			v.fail("remote.listen", `%q is not an address and a port (like "0.0.0.0:2222", or "" for no remote help)`, r.Listen)
		case host != "" && host != "localhost" && net.ParseIP(host) == nil:
			v.fail("remote.listen", `%q: write the address as digits (like "0.0.0.0:2222"), not a host name`, r.Listen)
		}
		if len(r.AuthorizedKeys) == 0 {
			v.missing("remote.authorized_keys", `when remote.listen is set (public keys, like ["ssh-ed25519 AAAA… technicien@loiret"])`)
		}
	}
	for i, k := range r.AuthorizedKeys {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
			v.fail("remote.authorized_keys["+strconv.Itoa(i)+"]", `is not a public key line (like "ssh-ed25519 AAAA… technicien@loiret", as in a .pub file)`)
		}
	}
	if r.HostKey == "" {
		v.missing("remote.host_key", `(like "/var/lib/borne/ssh_host_ed25519_key")`)
	} else {
		v.absPath("remote.host_key", r.HostKey, c.Hardware.Backend == "sim", "/var/lib/borne/ssh_host_ed25519_key")
	}
}
