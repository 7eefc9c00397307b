#!/bin/sh
# Installs what building and testing borne needs on a Debian machine, and
# nothing when it is all there already. Go itself must be on PATH.
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1; }
have gcc || need="$need gcc libc6-dev"
have tmux || need="$need tmux"
have dbus-daemon || need="$need dbus-daemon"
have sqlite3 || need="$need sqlite3"
have git || need="$need git"

if ! have go; then
	echo "Go 1.26 or later is needed on PATH (https://go.dev/dl/)." >&2
	exit 1
fi
[ -z "$need" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing:$need" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
