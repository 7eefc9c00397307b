package config

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
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

// A key line remote help cannot honour turns remote help off with a
// warning at its place; the config stays valid, so the kiosk runs.
func TestRemoteKeyWarnings(t *testing.T) {
	on := base + "[remote]\nlisten = \"0.0.0.0:2222\"\n"
	cases := []struct {
		name, keys, at, want string
	}{
		{"bad key", `["` + testKey + `", "ssh-ed25519 AAAAtrunc"]`, "11:" + strconv.Itoa(len(`authorized_keys = ["`+testKey+`", `)+1), "remote.authorized_keys[1]: is not a public key line"},
		{"private key pasted", `["-----BEGIN OPENSSH PRIVATE KEY-----"]`, "11:20", "remote.authorized_keys[0]: is not a public key line"},
		{"command", `['command="/bin/sh" ` + testKey + `']`, "11:20", `option "command" is not one remote help can honour`},
		{"permitopen", `['permitopen="host:22" ` + testKey + `']`, "11:20", `option "permitopen"`},
		{"bad from", `['from="10.0.0.0/33" ` + testKey + `']`, "11:20", `"10.0.0.0/33" is not an address block`},
		{"bad expiry", `['expiry-time="2027-01-01" ` + testKey + `']`, "11:20", `expiry-time="2027-01-01" is not a date`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("borne.toml", []byte(on+"authorized_keys = "+tc.keys+"\n"))
			if err != nil {
				t.Fatalf("a key line refused the whole config: %v", err)
			}
			w := c.Warnings.Error()
			if !strings.Contains(w, "borne.toml:"+tc.at+": "+tc.want[:0]) || !strings.Contains(w, tc.want) || !strings.Contains(w, "remote help is off") {
				t.Fatalf("warnings:\n%s\nwant at %s: %q", w, tc.at, tc.want)
			}
			if !strings.Contains(w, "borne.toml:"+tc.at+": ") {
				t.Errorf("warning not at %s: %s", tc.at, w)
			}
			if c.Remote.Off == "" {
				t.Error("remote help still on")
			}
		})
	}
}

func TestAuthorizedKeyOptions(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	k, err := ParseAuthorizedKey(`restrict,from="192.0.2.0/24,!192.0.2.66,2001:db8::*,10.1.?.5",expiry-time="202701311800" `+testKey, paris)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2027, 1, 31, 16, 59, 0, 0, time.UTC) // 17:59 in Paris
	for ip, ok := range map[string]bool{
		"192.0.2.10": true, "192.0.2.66": false, "198.51.100.1": false,
		"2001:db8::1": true, "2001:db9::1": false, "10.1.7.5": true, "10.1.17.5": false,
		"::ffff:192.0.2.10": true,
	} {
		if err := k.Allows(net.ParseIP(ip), before); (err == nil) != ok {
			t.Errorf("%s: %v", ip, err)
		}
	}
	if err := k.Allows(net.ParseIP("192.0.2.10"), before.Add(time.Minute)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("after the expiry: %v", err)
	}
	k, err = ParseAuthorizedKey(`expiry-time="20270131Z" `+testKey, paris)
	if err != nil || !k.Expiry.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("UTC expiry: %v %v", k.Expiry, err)
	}
	if k, err := ParseAuthorizedKey(testKey, paris); err != nil || k.Allows(net.ParseIP("203.0.113.9"), time.Now()) != nil || k.Comment != "technicien@loiret" {
		t.Errorf("a key without options: %+v %v", k, err)
	}
}
