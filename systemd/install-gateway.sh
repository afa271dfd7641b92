#!/bin/sh
# Install (or upgrade) the Footfall agent on a Raspberry Pi OS / Debian gateway, from this checkout.
# Run as root: sudo systemd/install-gateway.sh --org acme --store brno-1 --agent gw-1 --broker hub.example:8883
#
# What it does, each step safe to repeat (docs/operations.md says what an upgrade keeps):
#   1. apt: python3-venv, iw, iproute2 (skip with --skip-apt)
#   2. the footfall system user and group, and the state folder /var/lib/footfall-agent (0700, theirs)
#   3. a new release /opt/footfall/releases/<UTC time> (a venv with the package: pip install, no scapy),
#      then /opt/footfall/venv points at it; the previous release stays for a rollback
#   4. /opt/footfall/bin/footfall-monitor, the units footfall-monitor.service and footfall-agent.service,
#      /usr/local/bin/footfall-agent (a link), the docs in /opt/footfall/docs
#   5. /etc/footfall/agent.yaml (0640 root:footfall) and /etc/default/footfall-agent, only when missing
#   6. systemctl daemon-reload and enable (not start: enrol first), unless --root is given
#
# Options:
#   --root DIR        install under DIR instead of / (an image being built, or the tests); no systemctl
#   --skip-apt        do not call apt-get (the packages are there already)
#   --from SPEC       what pip installs: this checkout (default), a wheel file, or footfall==X.Y
#   --pip-args ARGS   more pip arguments, e.g. "--no-index --find-links /media/usb/wheels" (offline)
#   --org ID --store ID --agent ID --broker HOST[:PORT]   fill in a new agent.yaml
#   --keep N          releases to keep (default 3)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root="" skip_apt="" from="$repo" pip_args="" keep=3
org="CHANGE-ME" store="CHANGE-ME" agent="CHANGE-ME" broker="CHANGE-ME:8883"
die() { echo "install-gateway: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    --skip-apt) skip_apt=1; shift ;;
    --from) from=$2; shift 2 ;;
    --pip-args) pip_args=$2; shift 2 ;;
    --org) org=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --agent) agent=$2; shift 2 ;;
    --broker) broker=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) die "unknown option $1 (see the top of $0)" ;;
  esac
done
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...), or give --root DIR"

# 1. system packages
if [ -z "$skip_apt" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv iw iproute2 >/dev/null
fi

# 2. the user and the state folder
if [ -z "$root" ]; then
  getent group footfall >/dev/null || groupadd --system footfall
  getent passwd footfall >/dev/null || useradd --system --gid footfall --home-dir /var/lib/footfall-agent \
    --no-create-home --shell /usr/sbin/nologin --comment "Footfall agent" footfall
fi
owner() {  # chown to footfall where the user exists (not inside a --root image being built elsewhere)
  if [ -z "$root" ]; then chown "$@"; fi
}
install -d -m 0700 "$root/var/lib/footfall-agent"
owner footfall:footfall "$root/var/lib/footfall-agent"

# 3. a new release, then the switch
opt="$root/opt/footfall"
release="releases/$(date -u +%Y%m%dT%H%M%SZ)"
install -d -m 0755 "$opt/releases" "$opt/bin" "$opt/docs"
[ ! -e "$opt/$release" ] || die "$opt/$release exists already: wait a second and run again"
python3 -m venv "$opt/$release"
# shellcheck disable=SC2086  # pip_args is a list of arguments on purpose
"$opt/$release/bin/python" -m pip install -q $pip_args "$from" \
  || { rm -rf "${opt:?}/$release"; die "pip install $from failed; the installed release is unchanged"; }
ln -sfn "$release" "$opt/venv.new" && mv -T "$opt/venv.new" "$opt/venv"
# keep the newest $keep releases (the current one always among them)
ls -1d "$opt"/releases/* | head -n "-$keep" | while read -r old; do rm -rf "$old"; done

# 4. units, the monitor script, the command, the docs
install -m 0755 "$here/footfall-monitor" "$opt/bin/footfall-monitor"
install -d -m 0755 "$root/etc/systemd/system" "$root/usr/local/bin"
install -m 0644 "$here/footfall-agent.service" "$here/footfall-monitor.service" "$root/etc/systemd/system/"
ln -sfn /opt/footfall/venv/bin/footfall-agent "$root/usr/local/bin/footfall-agent"
[ ! -d "$repo/docs" ] || cp -R "$repo/docs/." "$opt/docs/"
[ ! -f "$repo/README.md" ] || install -m 0644 "$repo/README.md" "$opt/README.md"
"$opt/venv/bin/footfall-agent" config --defaults > "$opt/agent.example.yaml"

# 5. configuration, never overwritten
install -d -m 0755 "$root/etc/footfall" "$root/etc/default"
if [ ! -e "$root/etc/footfall/agent.yaml" ]; then
  host=${broker%:*} port=${broker##*:}
  [ "$port" != "$broker" ] || port=8883
  umask 027
  cat > "$root/etc/footfall/agent.yaml" <<EOF
# footfall agent (installed by install-gateway.sh). Every setting, its default and meaning:
# /opt/footfall/agent.example.yaml. Check: footfall-agent check-config --config /etc/footfall/agent.yaml
version: 1
org: $org
store: $store
agent: $agent
timezone: Europe/Prague          # the store's IANA time zone
state_dir: /var/lib/footfall-agent
source: {type: live, interface: mon0}
mqtt:
  host: $host
  port: $port
  tls: {ca_file: ca.crt}         # ca.crt, gateway.crt and gateway.key in state_dir (enroll --install)
EOF
  umask 022
  owner root:footfall "$root/etc/footfall/agent.yaml"
fi
if [ ! -e "$root/etc/default/footfall-agent" ]; then
  cat > "$root/etc/default/footfall-agent" <<'EOF'
# read by footfall-monitor.service (systemd/footfall-monitor explains each)
FOOTFALL_MONITOR=mon0
# FOOTFALL_PHY=phy1      # default: the first USB radio
FOOTFALL_CHANNEL=6       # empty when agent.yaml hops (source.channels)
EOF
fi

# 6. systemd
if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable footfall-monitor.service footfall-agent.service
  systemctl try-restart footfall-agent.service  # an upgrade: the running agent moves to the new release
fi
echo "installed $("$opt/venv/bin/footfall-agent" --version) in $opt/$release"
echo "next: edit $root/etc/footfall/agent.yaml, then enrol: docs/operations.md"
