package browser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/loiret/borne/operators"
)

// PolicyFile is where Debian's Chromium reads mandatory policies; the
// package installs the config's there (root, 0644).
const PolicyFile = "/etc/chromium/policies/managed/borne.json"

// Policy is Chromium's managed policy for the kiosk: only the operators'
// visio origins (and their end addresses') can be opened, and they get the
// camera and the microphone without a prompt; everything a citizen could
// use to leave the partner's page, keep something on the kiosk, or leave
// something for the next citizen is off.
//
// DeveloperToolsAvailability is 1 (allowed), not 2: Chromium 156 refuses
// every DevTools protocol command ("Not allowed") under 2, and the shell
// follows the page over that protocol. The DevTools window stays out of
// reach all the same: its devtools:// pages are blocked by URLBlocklist,
// and RemoteDebuggingAllowed only lets the browser serve the loopback
// port the shell asked for on its command line.
func Policy(ops []operators.Operator) map[string]any {
	origins := visioOrigins(ops)
	allow := make([]string, 0, len(origins))
	for _, o := range origins {
		allow = append(allow, urlFilter(o))
	}
	return map[string]any{
		// Where the page may go.
		"URLBlocklist":            []string{"*", "devtools://*", "view-source:*", "file://*"},
		"URLAllowlist":            allow,
		"VideoCaptureAllowedUrls": origins,
		"AudioCaptureAllowedUrls": origins,
		"AutoplayAllowed":         true,
		// Nothing kept, nothing taken away.
		"DownloadRestrictions":         3, // block all downloads
		"AllowFileSelectionDialogs":    false,
		"PrintingEnabled":              false,
		"PasswordManagerEnabled":       false,
		"AutofillAddressEnabled":       false,
		"AutofillCreditCardEnabled":    false,
		"PaymentMethodQueryEnabled":    false,
		"SavingBrowserHistoryDisabled": true,
		"ImportAutofillFormData":       false,
		"ImportSavedPasswords":         false,
		"ScreenCaptureAllowed":         false,
		// No way out of the page.
		"DeveloperToolsAvailability":                   1,
		"RemoteDebuggingAllowed":                       true,
		"IncognitoModeAvailability":                    1, // disabled
		"BrowserSignin":                                0, // disabled
		"BrowserGuestModeEnabled":                      false,
		"BrowserAddPersonEnabled":                      false,
		"SyncDisabled":                                 true,
		"TranslateEnabled":                             false,
		"ExtensionInstallBlocklist":                    []string{"*"},
		"DefaultPopupsSetting":                         2, // blocked
		"DefaultNotificationsSetting":                  2,
		"DefaultGeolocationSetting":                    2,
		"DefaultWebUsbGuardSetting":                    2,
		"DefaultWebBluetoothGuardSetting":              2,
		"DefaultSerialGuardSetting":                    2,
		"DefaultFileSystemReadGuardSetting":            2,
		"DefaultFileSystemWriteGuardSetting":           2,
		"DefaultBrowserSettingEnabled":                 false,
		"BackgroundModeEnabled":                        false,
		"MetricsReportingEnabled":                      false,
		"SearchSuggestEnabled":                         false,
		"SpellCheckServiceEnabled":                     false,
		"TaskManagerEndProcessEnabled":                 false,
		"BookmarkBarEnabled":                           false,
		"EditBookmarksEnabled":                         false,
		"AllowDinosaurEasterEgg":                       false,
		"HideWebStoreIcon":                             true,
		"ExternalProtocolDialogShowAlwaysOpenCheckbox": false,
		"PromptForDownloadLocation":                    false,
	}
}

// visioOrigins are the origins of the operators' visio addresses and end
// addresses, sorted, each once.
func visioOrigins(ops []operators.Operator) []string {
	var out []string
	for _, op := range ops {
		if !op.IsVisio() {
			continue
		}
		for _, s := range append([]string{op.VisioURL}, op.VisioEnd...) {
			if o, err := operators.Origin(s); err == nil && !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// urlFilter is the URLAllowlist entry of an origin: its scheme, its exact
// host (a leading "." keeps subdomains out) and its port.
func urlFilter(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return origin
	}
	if net.ParseIP(u.Hostname()) != nil || u.Hostname() == "localhost" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://." + u.Host
}

// PolicyJSON is the policy as Chromium reads it, indented, keys sorted.
func PolicyJSON(ops []operators.Operator) []byte {
	b, err := json.MarshalIndent(Policy(ops), "", "  ")
	if err != nil { // maps of strings, numbers and lists: cannot fail
		panic(err)
	}
	return append(b, '\n')
}

// ErrPolicyDiffers is CheckPolicy's answer when the installed policy is not
// the config's.
var ErrPolicyDiffers = errors.New("the browser's installed policy is not the config's")

// CheckPolicy compares the policy installed at path with want: nil when
// they hold the same settings.
func CheckPolicy(path string, want []byte) error {
	got, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: run borne config browser-policy --install", path)
	}
	if err != nil {
		return err
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		return fmt.Errorf("%s is not JSON: %v", path, err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		return err
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("%w: %s differs (run borne config browser-policy --install)", ErrPolicyDiffers, path)
	}
	return nil
}

// InstallPolicy writes the policy at path, 0644, in one step: a browser
// starting meanwhile reads the old file or the new one, never half of one.
// It reports whether the file changed.
func InstallPolicy(path string, data []byte) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".borne-*.json")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(f.Name(), path)
}
