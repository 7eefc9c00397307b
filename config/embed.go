package config

import _ "embed"

//go:embed demo.toml
var demoTOML []byte

//go:embed example.toml
var exampleTOML []byte

// Demo returns the config of `borne demo`: a made-up site on simulated
// hardware, whose maintenance PIN is 246810. Its usage.database is a
// relative file name the command line is expected to replace. Each call
// returns a new Config.
func Demo() *Config {
	c, err := Parse("demo.toml", demoTOML)
	if err != nil {
		panic("config: the embedded demo config is invalid: " + err.Error())
	}
	return c
}

// DemoTOML returns the text of the demo config.
func DemoTOML() []byte { return append([]byte(nil), demoTOML...) }

// Example returns a commented example config, for `borne config example`.
func Example() []byte { return append([]byte(nil), exampleTOML...) }
