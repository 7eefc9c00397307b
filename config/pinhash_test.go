package config

import (
	"strings"
	"testing"
)

func TestCheckPIN(t *testing.T) {
	bad := []string{"", "12345", "1234567890123", "12a456", "000000", "123456", "654321", "890123", "121212", "123123", "999999999", "abcdef"}
	for _, p := range bad {
		if CheckPIN(p) == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for _, p := range []string{"246810", "731904", "58203716", "120894"} {
		if err := CheckPIN(p); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
}

func TestHashAndVerifyPIN(t *testing.T) {
	h, err := HashPIN("731904")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=5,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if _, err := parsePinHash(h); err != nil {
		t.Fatalf("own hash refused: %v", err)
	}
	if ok, err := VerifyPIN(h, "731904"); !ok || err != nil {
		t.Fatalf("right PIN: %v %v", ok, err)
	}
	if ok, _ := VerifyPIN(h, "731905"); ok {
		t.Fatal("wrong PIN accepted")
	}
	if _, err := VerifyPIN("$argon2id$nonsense", "731904"); err == nil {
		t.Fatal("a broken hash verified")
	}
	h2, _ := HashPIN("731904")
	if h2 == h {
		t.Fatal("two hashes of one PIN share their salt")
	}
}

func TestDemoPIN(t *testing.T) {
	if ok, err := VerifyPIN(Demo().Maintenance.PinHash, "246810"); !ok || err != nil {
		t.Fatalf("the demo PIN does not open the demo: %v %v", ok, err)
	}
}

// One PIN check: slow enough against guessing, quick enough for an agent
// (aim: 50 to 500 ms).
func BenchmarkVerifyPIN(b *testing.B) {
	h, _ := HashPIN("731904")
	for b.Loop() {
		VerifyPIN(h, "731904")
	}
}
