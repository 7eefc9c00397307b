package audio

import (
	"testing"

	"github.com/jfreymuth/pulse/proto"
)

func TestParseServer(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"unix:/run/user/999/pulse/native", "unix", "/run/user/999/pulse/native"},
		{"/run/user/999/pulse/native", "unix", "/run/user/999/pulse/native"},
		{"{host}unix:/tmp/native tcp:localhost:4713", "unix", "/tmp/native"},
		{"tcp:127.0.0.1:4713", "tcp", "127.0.0.1:4713"},
		{"tcp6:[::1]:4713", "tcp6", "[::1]:4713"},
	} {
		n, a, err := parseServer(tc.in)
		if err != nil || n != tc.network || a != tc.addr {
			t.Errorf("parseServer(%q) = %q %q %v", tc.in, n, a, err)
		}
	}
	if _, _, err := parseServer("pulse.example"); err == nil {
		t.Error("a bare host name was taken")
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		v    proto.ChannelVolumes
		want int
	}{
		{nil, 0},
		{proto.ChannelVolumes{uint32(proto.VolumeNorm)}, 100},
		{proto.ChannelVolumes{45875, 45875}, 70}, // pactl's 70%
		{proto.ChannelVolumes{0, uint32(proto.VolumeNorm)}, 50},
	} {
		if got := percent(tc.v); got != tc.want {
			t.Errorf("percent(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
}
