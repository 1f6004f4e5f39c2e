#!/usr/bin/env bash
# Installs the Debian 12 packages that tests/cli_slurm.sh needs to start a single-node SLURM on
# 127.0.0.1: slurmctld, slurmd, the client commands (sbatch, squeue, scontrol, srun, scancel) and
# munge. Kept apart from scripts/install-deps.sh: building and using pdecon does not need SLURM.
# Needs root or sudo; does nothing when everything is already there.
# The packages' own services are neither started nor enabled: they would need a cluster
# configuration (/etc/slurm/slurm.conf, a shared munge key), and the test runs its own daemons
# with their own configuration in a temporary directory.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# policy-rc.d answering "not allowed" keeps the maintainer scripts from starting the daemons
# (also through systemd: deb-systemd-invoke honours it) for the time of the installation.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT

$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"

# nor started at the next boot (only the services of the packages installed here)
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  for p in "${missing[@]}"; do
    case $p in slurmctld | slurmd | munge) $sudo systemctl disable --quiet "$p" 2>/dev/null || true ;; esac
  done
fi
