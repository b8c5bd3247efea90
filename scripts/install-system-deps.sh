#!/usr/bin/env bash
# Installs the system packages the platform needs, only those missing: Java 17 and Maven (Kafka, Cassandra
# and Spark's connectors come from Maven Central), PostgreSQL, Redis and MariaDB (Debian's packages),
# Chromium, wrk.
set -euo pipefail

missing=()
java_major=$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -n1 || true)
if [ -z "${java_major}" ] || [ "${java_major}" -lt 17 ]; then missing+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null || missing+=(maven)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v postgres >/dev/null || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# The stack's optional MySQL (the reference job's MySQL source, and its test).
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Headless Chromium runs the web page's test against the live API.
command -v chromium >/dev/null || missing+=(chromium)
# The read API's load test (make bench-api-load) drives it with wrk.
command -v wrk >/dev/null || missing+=(wrk)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged servers as services where it can; the stack runs its own, on its own data.
for service in redis-server postgresql mariadb; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
echo "system packages: installed ${missing[*]}"
