package usage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxStateFile bounds what ReadStateFile reads: the kiosk's small state
// files (PIN attempts, crash history, metrics) hold a few lines.
const MaxStateFile = 16 << 10

// ErrNotRegular is wrapped by ReadStateFile's error when the path is not a
// plain file (a symbolic link, a FIFO, a device, a folder, a socket).
var ErrNotRegular = errors.New("not a plain file")

// ErrTooLarge is wrapped by ReadStateFile's error when the file holds more
// than it may.
var ErrTooLarge = errors.New("larger than a state file can be")

// ReadStateFile reads one of the kiosk's small state files, at most limit
// bytes (MaxStateFile when limit <= 0). Whatever is at the path, it never
// blocks and never reads without end: a symbolic link is not followed, a
// FIFO or a device is opened without waiting and refused (ErrNotRegular),
// a file larger than limit is refused (ErrTooLarge). A missing file gives
// an error that matches fs.ErrNotExist. ctx is checked before and after
// the read, so a caller past its deadline never takes a stale answer.
func ReadStateFile(ctx context.Context, path string, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = MaxStateFile
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := OpenStateFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) > limit:
		return nil, fmt.Errorf("%s: %w (%d bytes at most)", path, ErrTooLarge, limit)
	}
	return b, ctx.Err()
}

// OpenStateFile opens a state file with flag (O_RDONLY, or O_WRONLY with
// O_APPEND and O_CREATE) without following a symbolic link or waiting on
// a FIFO, and returns it only when it is a plain file (checked on the open
// file, so nothing can swap it in between).
func OpenStateFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s: %w (a symbolic link)", path, ErrNotRegular)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fileKind(fi.Mode()))
	}
	return f, nil
}

// fileKind names what a path holds, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}
