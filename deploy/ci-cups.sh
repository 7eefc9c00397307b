#!/bin/sh
# Installs what the printing tests need on a Debian machine, and nothing
# when it is all there: the CUPS scheduler and its client tools, the
# cups-pdf backend whose PDF files the tests read back, poppler-utils to
# read them (pdftotext, pdfinfo), dbus-daemon for the private buses.
#
# The tests start their own scheduler on a free port (hw/cups/cupstest):
# the machine's CUPS is neither used nor changed, except for one small
# /etc/cups/cups-pdf-*.conf per test scheduler, removed when it stops.
# They must run as root, as cups-pdf only runs for a root scheduler.
set -eu

packages="cups-daemon cups-client printer-driver-cups-pdf poppler-utils dbus-daemon"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

need=""
for p in $packages; do
	installed "$p" || need="$need $p"
done

if [ -n "$need" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "Installing:$need" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi

for f in /usr/sbin/cupsd /usr/sbin/lpadmin /usr/lib/cups/backend/cups-pdf \
	/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd /usr/lib/cups/notifier/dbus \
	/usr/bin/pdftotext /usr/bin/pdfinfo /usr/bin/dbus-daemon; do
	if [ ! -e "$f" ]; then
		echo "ci-cups: $f is still missing after installing $packages" >&2
		exit 1
	fi
done

if [ "$(id -u)" -ne 0 ]; then
	echo "ci-cups: ready; run the printing tests as root (go test ./hw/cups/...)" >&2
fi
