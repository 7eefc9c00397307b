package config

import (
	"strconv"
	"strings"
	"testing"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFpBYKU0Gb2cfX+hDd8+M3tWxGYSySHpC2h6x6ZHiAUM technicien@loiret"

func TestRemote(t *testing.T) {
	c, err := Parse("borne.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Remote.Listen != "" || len(c.Remote.AuthorizedKeys) != 0 || c.Remote.HostKey != "/var/lib/borne/ssh_host_ed25519_key" {
		t.Fatalf("remote help must be off by default: %+v", c.Remote)
	}

	on := base + "[remote]\nlisten = \"0.0.0.0:2222\"\nauthorized_keys = [\"" + testKey + "\"]\n"
	c, err = Parse("borne.toml", []byte(on))
	if err != nil {
		t.Fatal(err)
	}
	if c.Remote.Listen != "0.0.0.0:2222" || len(c.Remote.AuthorizedKeys) != 1 {
		t.Fatalf("remote = %+v", c.Remote)
	}
	for _, addr := range []string{"127.0.0.1:2222", "[::1]:2222", ":2222", "localhost:2222"} {
		if _, err := Parse("borne.toml", []byte(strings.Replace(on, "0.0.0.0:2222", addr, 1))); err != nil {
			t.Errorf("listen %q: %v", addr, err)
		}
	}
}

func TestRemoteErrors(t *testing.T) {
	cases := []struct {
		name, doc, at, want string
	}{
		{"no port", base + "[remote]\nlisten = \"0.0.0.0\"\nauthorized_keys = [\"" + testKey + "\"]\n", "10:10", `remote.listen: "0.0.0.0" is not an address and a port`},
		{"port out of range", base + "[remote]\nlisten = \":70000\"\nauthorized_keys = [\"" + testKey + "\"]\n", "10:10", `remote.listen: ":70000" is not an address and a port`},
		{"host name", base + "[remote]\nlisten = \"kiosk.example:22\"\nauthorized_keys = [\"" + testKey + "\"]\n", "10:10", "not a host name"},
		{"listen without keys", base + "[remote]\nlisten = \"0.0.0.0:2222\"\n", "9:1", "remote.authorized_keys is required when remote.listen is set"},
		{"bad key", base + "[remote]\nauthorized_keys = [\"" + testKey + "\", \"ssh-ed25519 AAAAtrunc\"]\n", "10:" + strconv.Itoa(len(`authorized_keys = ["`+testKey+`", `)+1), "remote.authorized_keys[1]: is not a public key line"},
		{"private key pasted", base + "[remote]\nauthorized_keys = [\"-----BEGIN OPENSSH PRIVATE KEY-----\"]\n", "10:20", "remote.authorized_keys[0]: is not a public key line"},
		{"relative host key", base + "[remote]\nhost_key = \"ssh_host_key\"\n", "10:12", `remote.host_key: "ssh_host_key" must be an absolute path`},
		{"empty host key", base + "[remote]\nhost_key = \"\"\n", "10:12", "remote.host_key is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("borne.toml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			want := "borne.toml:" + tc.at + ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got:\n%v\nwant %q and %q", err, want, tc.want)
			}
		})
	}
}
