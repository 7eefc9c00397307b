package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// OutOfService is a kiosk an agent put out of service: a ready message's
// catalog key, which citizens read in their own language, or the words an
// agent typed, shown as typed; and since when. The zero value is a kiosk
// in service.
type OutOfService struct {
	Key     string    `json:"key,omitempty"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since"`
}

// On tells whether the kiosk is out of service.
func (s OutOfService) On() bool { return s.Key != "" || s.Message != "" }

// maxServiceFile bounds what is read of the file: a typed message is at
// most a few hundred bytes.
const maxServiceFile = 4 << 10

// ServiceFile keeps the out-of-service state across restarts (a watchdog's,
// a kill, a power cut): a kiosk an agent marked broken stays so until an
// agent brings it back.
type ServiceFile struct{ path string }

// NewServiceFile keeps the state in path.
func NewServiceFile(path string) *ServiceFile { return &ServiceFile{path: path} }

// ErrServiceFile marks a file that is there but cannot be understood: the
// caller keeps the kiosk out of service rather than trust it.
var ErrServiceFile = errors.New("out-of-service file not understood")

// Load reads the state; no file is a kiosk in service. A file that is
// there but is no regular file, too big or garbled gives ErrServiceFile.
func (f *ServiceFile) Load() (OutOfService, error) {
	b, err := ReadStateFile(context.Background(), f.path, maxServiceFile)
	if errors.Is(err, fs.ErrNotExist) {
		return OutOfService{}, nil
	}
	if err != nil {
		return OutOfService{}, fmt.Errorf("%w: %s: %w", ErrServiceFile, f.path, err)
	}
	var s OutOfService
	if err := json.Unmarshal(b, &s); err != nil || !s.On() {
		return OutOfService{}, fmt.Errorf("%w: %s: not a kiosk state", ErrServiceFile, f.path)
	}
	return s, nil
}

// Save writes the state, synced, before it returns; the zero value
// removes the file.
func (f *ServiceFile) Save(s OutOfService) error {
	dir := filepath.Dir(f.path)
	if !s.On() {
		err := os.Remove(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			err = syncDir(dir)
		}
		if err != nil {
			return fmt.Errorf("out-of-service state %s: %w", f.path, err)
		}
		return nil
	}
	b, err := json.Marshal(s)
	if err == nil {
		err = os.MkdirAll(dir, 0o750)
	}
	if err == nil {
		err = WriteFileAtomic(f.path, append(b, '\n'), 0o640)
	}
	if err != nil {
		return fmt.Errorf("out-of-service state %s: %w", f.path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
