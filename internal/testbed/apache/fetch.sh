#!/usr/bin/env bash
# fetch.sh LINE — brings the jars of the newest Apache Kafka release of LINE
# ("4" for the newest 4.x, "3.9" for the newest 3.9.x, or an exact version
# such as 4.1.1) into a cache outside the repository, and prints the
# directory that holds them on its last line of standard output.
#
# The cache is $KMIRROR_KAFKA_CACHE (default ~/.cache/kmirror/kafka), one
# directory per version; a version already there is reused. The version is
# the newest one whose every artifact in pom.xml is on Maven Central (the
# broker, the tools, the Java client and MirrorMaker 2 must all be of the
# same release). Without Maven Central, the newest cached version of the line
# is used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
line="${1:?usage: fetch.sh 4|3.9|VERSION}"
cache="${KMIRROR_KAFKA_CACHE:-$HOME/.cache/kmirror/kafka}"
repo="$(mvn -q -B -Dstyle.color=never help:evaluate -Dexpression=settings.localRepository -DforceStdout 2>/dev/null |
  sed 's/\x1b\[[0-9;]*m//g')" || true
repo="${repo:-$HOME/.m2/repository}"
artifacts=(kafka_2.13 kafka-tools kafka-clients connect-mirror connect-mirror-client)
log() { echo "fetch.sh: $*" >&2; }

# in_line VERSION: whether VERSION is a release of the line asked for.
in_line() {
  case "$line" in
    *.*.*) [ "$1" = "$line" ] ;;
    *) [[ "$1" == "$line".* ]] && [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ;;
  esac
}

# candidates: the versions of the line that every artifact lists, newest
# first. Resolving a range over the pom's dependency tree makes Maven fetch
# each artifact's metadata (poms only, no jars).
candidates() {
  case "$line" in
    *.*.*) echo "$line"; return ;;
    *.*) range="[$line,${line%.*}.$(( ${line#*.} + 1 )))" ;;
    *) range="[$line,$(( line + 1 )))" ;;
  esac
  mvn -q -B -f "$here/pom.xml" -Dkafka.version="$range" dependency:tree >/dev/null 2>&1 ||
    log "could not refresh the version lists from Maven Central; using what is cached"
  local lists=()
  for a in "${artifacts[@]}"; do
    local meta
    meta=$(ls "$repo/org/apache/kafka/$a"/maven-metadata-*.xml 2>/dev/null | head -1) || true
    [ -n "$meta" ] || return 0
    lists+=("$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$meta" | sort -u)")
  done
  local common="${lists[0]}"
  for l in "${lists[@]:1}"; do
    common=$(comm -12 <(echo "$common") <(echo "$l"))
  done
  for v in $(echo "$common" | sort -rV); do
    in_line "$v" && echo "$v"
  done
  true
}

# cached: versions of the line already in the cache, newest first.
cached() {
  for d in $(ls -1 "$cache" 2>/dev/null | sort -rV); do
    [ -f "$cache/$d/.complete" ] && in_line "$d" && echo "$d"
  done
  true
}

fetch() {
  local v="$1" dir="$cache/$1"
  [ -f "$dir/.complete" ] && return 0
  log "fetching Apache Kafka $v from Maven Central"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  if ! mvn -q -B -f "$here/pom.xml" -Dkafka.version="$v" dependency:copy-dependencies \
      -DoutputDirectory="$dir.tmp" -DincludeScope=runtime \
      -DexcludeArtifactIds=slf4j-reload4j,slf4j-log4j12,log4j-slf4j-impl,log4j-slf4j2-impl >&2; then
    rm -rf "$dir.tmp"
    return 1
  fi
  echo "$v" >"$dir.tmp/.complete"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

mkdir -p "$cache"
for v in $(candidates); do
  if fetch "$v"; then
    log "Apache Kafka $v: $cache/$v"
    echo "$cache/$v"
    exit 0
  fi
  log "Apache Kafka $v does not resolve; trying an older one"
done
for v in $(cached); do
  log "Apache Kafka $v (cached): $cache/$v"
  echo "$cache/$v"
  exit 0
done
log "no Apache Kafka release of line $line could be fetched or found in $cache"
exit 1
