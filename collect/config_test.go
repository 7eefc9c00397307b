package collect

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("collector.toml", []byte(`database = "/var/lib/borne-collect/events.db"`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Retention.D() != 760*24*time.Hour || c.SyncInterval.D() != 15*time.Minute ||
		c.Location().String() != "Europe/Paris" || c.MaxRequests != DefaultMaxRequests || c.IsPostgres() {
		t.Errorf("defaults %+v", c)
	}
	c, err = ParseConfig("collector.toml", []byte(`database = "postgres://borne-collect@/borne?host=/run/postgresql"`))
	if err != nil || !c.IsPostgres() {
		t.Errorf("postgres: %v", err)
	}
}

func TestConfigErrorsArePlaced(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"database = \"x.db\"\nlisten = 8440\n", "collector.toml:2:"},
		{"database = \"x.db\"\n\nlisten_on = \"x\"\n", `collector.toml:3:1: unknown key "listen_on"`},
		{"database = \"x.db\"\ntimezone = \"Europe/Pariss\"\n", `collector.toml:2:1: timezone: "Europe/Pariss" is not a known time zone`},
		{"database = \"x.db\"\n  retention = \"2h\"\n", "collector.toml:2:3: retention: 2h is less than a day"},
		{"database = \"x.db\"\nretention = \"25 months\"\n", "collector.toml:2:"},
		{"database = \"x.db\"\ntls_cert = \"/etc/c.pem\"\n", "collector.toml:2:1: tls_cert: tls_cert and tls_key go together"},
		{"listen = \"127.0.0.1:8440\"\n", "collector.toml:1:1: database: is empty"},
		{"database = \"x.db\"\nmax_requests = 0\n", "collector.toml:2:1: max_requests: must be 1 or more"},
		{"database = \"x.db\"\nlisten = \"a\n", "collector.toml:2:"},
	} {
		_, err := ParseConfig("collector.toml", []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
	if _, err := LoadConfig("/nonexistent/collector.toml"); err == nil || !strings.Contains(err.Error(), "/nonexistent/collector.toml: cannot read the collector's config: there is no such file") {
		t.Errorf("missing file: %v", err)
	}
}
