#!/bin/sh
# Installs what borne needs on a Debian machine, and nothing when it is all
# there already. `dev-deps.sh build` is what building needs (a C compiler
# for SQLite); `dev-deps.sh test` adds what the tests drive for real: tmux,
# dbus-daemon, sqlite3, systemd's unit checker, foot, dpkg, debootstrap and
# systemd-nspawn (the package installed on a fresh Debian 12, booted) and
# the printing tests' cupsd; sway, grim and wtype for the screen tests,
# chromium, PipeWire and PostgreSQL. Go itself must be on PATH.
set -eu

have() { command -v "$1" >/dev/null 2>&1; }
if ! have go; then
	echo "Go 1.26 or later is needed on PATH (https://go.dev/dl/)." >&2
	exit 1
fi

need=""
have gcc || need="$need gcc libc6-dev"
have git || need="$need git"
if [ "${1:-build}" = test ]; then
	have tmux || need="$need tmux"
	have dbus-daemon || need="$need dbus-daemon"
	have sqlite3 || need="$need sqlite3"
	have systemd-analyze || need="$need systemd"
	have foot || need="$need foot"
	have dpkg-deb || need="$need dpkg"
	have debootstrap || [ -x /usr/sbin/debootstrap ] || need="$need debootstrap"
	have systemd-nspawn || need="$need systemd-container"
	have make || need="$need make"
	# The screen (a headless sway, screenshots, typed input), the partner's
	# browser, the sound server and the collector's PostgreSQL.
	have sway || need="$need sway"
	have grim || need="$need grim"
	have wtype || need="$need wtype"
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need="$need fonts-dejavu-core"
	have chromium || need="$need chromium"
	have pipewire || need="$need pipewire"
	have pipewire-pulse || need="$need pipewire-pulse"
	have wireplumber || need="$need wireplumber"
	have pactl || need="$need pulseaudio-utils"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
	have useradd || need="$need passwd"
fi

if [ -n "$need" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "Installing:$need" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi
if [ "${1:-build}" = test ]; then
	"$(dirname "$0")/ci-cups.sh"
fi
