package config

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PIN rules: 6 to 12 digits, none of the codes a stranger tries first.
const (
	minPinDigits = 6
	maxPinDigits = 12
)

// CheckPIN says why a PIN chosen for maintenance is not acceptable.
func CheckPIN(pin string) error {
	if len(pin) < minPinDigits || len(pin) > maxPinDigits {
		return fmt.Errorf("a PIN has %d to %d digits", minPinDigits, maxPinDigits)
	}
	for _, r := range pin {
		if r < '0' || r > '9' {
			return errors.New("a PIN has digits only")
		}
	}
	if trivialPIN(pin) {
		return errors.New("this PIN is too easy to guess (a repeated digit, a run like 123456, or a repeated pattern): choose another")
	}
	return nil
}

// trivialPIN catches one digit repeated, runs up or down, and short
// patterns repeated (121212, 123123).
func trivialPIN(pin string) bool {
	up, down := true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		up = up && (d == 1 || d == -9)
		down = down && (d == -1 || d == 9)
	}
	if up || down {
		return true
	}
	for n := 1; n <= len(pin)/2; n++ {
		if len(pin)%n == 0 && strings.Repeat(pin[:n], len(pin)/n) == pin {
			return true
		}
	}
	return false
}

// pinPasses is more passes than the OWASP minimum of two: on the development
// machine a check then takes about 60 ms, slow against guessing and quick
// for an agent; a kiosk's small box is slower still.
const pinPasses = 5

// HashPIN makes the argon2id PHC string that maintenance.pin_hash holds:
// 19 MiB, five passes, one thread, a 16-byte salt.
func HashPIN(pin string) (string, error) {
	if err := CheckPIN(pin); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("no randomness for the salt: %w", err)
	}
	key := argon2.IDKey([]byte(pin), salt, pinPasses, minPinMemory, minPinThreads, 32)
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		minPinMemory, pinPasses, minPinThreads, b.EncodeToString(salt), b.EncodeToString(key)), nil
}

// VerifyPIN tells whether pin matches the PHC string, in constant time
// whatever the PIN.
func VerifyPIN(phc, pin string) (bool, error) {
	h, err := parsePinHash(phc)
	if err != nil {
		return false, fmt.Errorf("maintenance.pin_hash %w", err)
	}
	key := argon2.IDKey([]byte(pin), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}
