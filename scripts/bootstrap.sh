#!/usr/bin/env bash
# Installs what Tracer needs outside Python, from Debian's packages: Java 17 and Maven (the local
# Kafka broker comes from Maven Central), kcat (the outside client of the end-to-end tests) and
# promtool (checks the alert rules) and Chromium (renders the HTML reports in a test, headless). Does
# nothing for what is already there.
set -euo pipefail

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v kcat >/dev/null || need+=(kcat)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "bootstrap: installing ${need[*]} with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
