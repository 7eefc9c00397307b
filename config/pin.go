package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The weakest argon2id settings accepted for the maintenance PIN hash:
// 19 MiB of memory, two passes, one thread.
const (
	minPinMemory  = 19456
	minPinTime    = 2
	minPinThreads = 1

	// Beyond these, checking a PIN would take too long or too much memory.
	maxPinMemory = 1 << 20 // 1 GiB
	maxPinTime   = 64
)

// pinHash is a parsed argon2id PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash in unpadded
// standard base64.
type pinHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// The hashes the repository ships, whose PINs are public or unknown to any
// site: a kiosk keeping one would be opened by anyone who read the
// documentation, or by nobody.
const (
	// demoPinHash is the demo's (PIN 246810, written in the demo config):
	// fine on simulated hardware, refused on a real kiosk.
	demoPinHash = "$argon2id$v=19$m=19456,t=2,p=1$bxk33AoFRy6tYly+qjt2YA$hZz5SAAZSbg+GUdLZFK5xlABbXXALpCW8kLF0OL8upE"
	// examplePinHash is borne config example's.
	examplePinHash = "$argon2id$v=19$m=19456,t=2,p=1$Ea4Xfx2v3WnrwLNYWNtUuQ$nxCXuD5YzBnfY4fDDrPZrDaPlP4sI/To0uqk717NVNk"
	// installedPinHash is the installed config's and the deploy examples'.
	installedPinHash = "$argon2id$v=19$m=19456,t=5,p=1$lJrlhIwvorEfwWYtk/MvZA$duAzTPeW1Um5aW8cHQrww1PxqlF1EtnJMissYA0B7tc"
)

// placeholderPin says why hash cannot stay in a config on backend, "" when
// it may.
func placeholderPin(hash, backend string) string {
	switch {
	case hash == examplePinHash || hash == installedPinHash:
		return "is the example's placeholder, not this site's: make the site's own with: borne pin hash"
	case hash == demoPinHash && backend != "sim":
		return "is the demo's, whose PIN is public: on a real kiosk make the site's own with: borne pin hash"
	}
	return ""
}

var errNotPHC = errors.New(`is not an argon2id hash like "$argon2id$v=19$m=19456,t=2,p=1$…" (make one with: borne pin hash)`)

func parsePinHash(s string) (pinHash, error) {
	var h pinHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, errNotPHC
	}
	if parts[2] != "v=19" {
		return h, fmt.Errorf("uses argon2 version %q; only v=19 is supported (make a new one with: borne pin hash)", parts[2])
	}
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return h, errNotPHC
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return h, errNotPHC
		}
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return h, fmt.Errorf("asks for p=%d threads; at most 255 (make a new one with: borne pin hash)", n)
			}
			h.threads = uint8(n)
		default:
			return h, errNotPHC
		}
	}
	if !seen["m"] || !seen["t"] || !seen["p"] {
		return h, errNotPHC
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return h, errNotPHC
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return h, errNotPHC
	}
	switch {
	case h.memory < minPinMemory:
		return h, fmt.Errorf("is too weak: m=%d is below %d (make a new one with: borne pin hash)", h.memory, minPinMemory)
	case h.time < minPinTime:
		return h, fmt.Errorf("is too weak: t=%d is below %d (make a new one with: borne pin hash)", h.time, minPinTime)
	case h.threads < minPinThreads:
		return h, fmt.Errorf("is too weak: p=%d is below %d (make a new one with: borne pin hash)", h.threads, minPinThreads)
	case h.memory > maxPinMemory || h.time > maxPinTime:
		return h, fmt.Errorf("asks for m=%d, t=%d: too slow for a kiosk (at most m=%d, t=%d)", h.memory, h.time, maxPinMemory, maxPinTime)
	case len(h.salt) < 8:
		return h, errors.New("has a salt shorter than 8 bytes (make a new one with: borne pin hash)")
	case len(h.key) < 16:
		return h, errors.New("has a hash shorter than 16 bytes (make a new one with: borne pin hash)")
	}
	return h, nil
}
