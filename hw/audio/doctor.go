package audio

import (
	"context"
	"fmt"

	"github.com/jfreymuth/pulse/proto"

	"github.com/loiret/borne/hw"
)

// Doctor implements hw.Doctor: the sound server, a speaker, a microphone.
// It waits for the first attempt to reach the server, within ctx.
func (b *Backend) Doctor(ctx context.Context) []hw.Check {
	select {
	case <-b.ready:
	case <-ctx.Done():
	}
	server := hw.Check{Name: "sound", Health: hw.OK, Needed: true}
	speaker := hw.Check{Name: "speaker", Health: hw.Missing, Needed: true}
	mic := hw.Check{Name: "microphone", Health: hw.Missing, Needed: true}
	var info proto.GetServerInfoReply
	var st hw.AudioStatus
	err := b.use(ctx, func(c *conn) error {
		if err := c.Request(&proto.GetServerInfo{}, &info); err != nil {
			return err
		}
		var err error
		st, err = check(c)
		return err
	})
	if err != nil {
		server.Health, server.Reason = hw.Missing, err.Error()
		speaker.Reason, mic.Reason = "no sound server", "no sound server"
		return []hw.Check{server, speaker, mic}
	}
	server.Reason = fmt.Sprintf("%s %s at %s", info.PackageName, info.PackageVersion, b.o.Server)
	if st.Speaker {
		speaker.Health, speaker.Reason = hw.OK, info.DefaultSinkName
	} else {
		speaker.Reason = "the sound server has no output: is a speaker plugged in, and its card's profile not \"off\"?"
	}
	if st.Mic {
		mic.Health, mic.Reason = hw.OK, info.DefaultSourceName
	} else {
		mic.Reason = "the sound server has no input: is a microphone (or the camera's) plugged in?"
	}
	return []hw.Check{server, speaker, mic}
}
