#!/bin/sh
# Launcher of a keylime-attestor SPIRE plugin. The plugin's jar is appended to this very file, so
# SPIRE's plugin_checksum covers everything that runs. Needs a Java 17 or newer runtime.
#   KEYLIME_ATTESTOR_JAVA        java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   KEYLIME_ATTESTOR_TUNING      JVM start-up flags (default below; set it empty to measure without)
#   KEYLIME_ATTESTOR_JAVA_OPTS   extra JVM options, appended last
#   KEYLIME_ATTESTOR_CDS=off     ignore the class-data archive
# A class-data archive "<this file>.jsa" is used when it exists, is owned by this file's owner or root
# and is writable by neither group nor others (plugin_checksum does not cover it); "<this file>
# --train-cds" makes it, 0644 (one run that calls itself as SPIRE would; redo it after every upgrade
# of the file or the JVM). The archive records this file's absolute path, resolved below, so it is
# used whatever directory or relative path SPIRE starts the plugin from.
# The JVM's own messages go to stderr: stdout carries only the go-plugin handshake line.
# -cp with the main class (filled in at build time) rather than -jar: -jar opens the jar once more
# only to read the manifest, and reading the central directory of 18,000 entries twice costs about
# 10 ms of the start-up (integration-tests/bench/startup.sh). --enable-native-access is what the
# manifest's Enable-Native-Access says for -jar.
main=@PLUGIN_MAIN_CLASS@
unset CDPATH
case $0 in
  */*) self=$0 ;;
  *) if [ -f "$0" ]; then self=./$0; else self=$(command -v -- "$0") || self=$0; fi ;;
esac
dir=$(cd -P -- "${self%/*}/" && pwd -P) || { echo "keylime-attestor: cannot resolve the directory of $self" >&2; exit 1; }
self=${dir%/}/${self##*/}
if [ -n "$KEYLIME_ATTESTOR_JAVA" ]; then java=$KEYLIME_ATTESTOR_JAVA
elif [ -n "$JAVA_HOME" ]; then java=$JAVA_HOME/bin/java
else java=java
fi
# C1 only, serial GC, small stacks/heap; unpooled Netty buffers (a plugin moves a few small messages
# per attestation; pooled direct arenas only cost resident memory); no hsperfdata (its sampler wakes
# every 50 ms: 0.5 ms of CPU a second in an idle plugin; jcmd <pid> still works, jps/jstat do not).
tuning=${KEYLIME_ATTESTOR_TUNING--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -Xss256k -Xms8m -Xmx64m -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m -XX:-UsePerfData -Dio.grpc.netty.useCustomAllocator=false -Dio.netty.allocator.type=unpooled}
if [ "$1" = "--train-cds" ]; then
  rm -f -- "$self.jsa"
  "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning -XX:ArchiveClassesAtExit="$self.jsa" $KEYLIME_ATTESTOR_JAVA_OPTS --enable-native-access=ALL-UNNAMED -cp "$self" "$main" --train-cds
  rc=$?
  if [ "$rc" -ne 0 ]; then rm -f -- "$self.jsa"; exit "$rc"; fi
  chmod 0644 "$self.jsa" || exit 1
  exit 0
fi

# "<uid> <mode>" of $1 (symlinks followed, as the JVM opens it); ls -n is POSIX, stat -c is not.
owner_mode() {
  set -f
  set -- $(ls -lLdn -- "$1" 2>/dev/null)
  set +f
  [ $# -ge 3 ] && echo "$3 $1"
}
# Empty if the archive may be used, else why not.
archive_problem() {
  [ -r "$self.jsa" ] || { echo "not readable"; return; }
  a=$(owner_mode "$self.jsa") || { echo "cannot read its owner and mode"; return; }
  p=$(owner_mode "$self") || { echo "cannot read the owner of $self"; return; }
  case ${a#* } in
    -????w*|-???????w*) echo "writable by group or others (mode ${a#* })"; return ;;
    -*) ;;
    *) echo "not a regular file"; return ;;
  esac
  if [ "${a%% *}" != "${p%% *}" ] && [ "${a%% *}" != 0 ]; then
    echo "owned by uid ${a%% *}, neither root nor the plugin's owner (uid ${p%% *})"
  fi
}
cds=
if [ "${KEYLIME_ATTESTOR_CDS:-on}" = on ] && [ -e "$self.jsa" ]; then
  why=$(archive_problem)
  if [ -z "$why" ]; then cds="-XX:SharedArchiveFile=$self.jsa"
  else echo "keylime-attestor: ignoring class-data archive $self.jsa: $why; remake it with: $self --train-cds" >&2
  fi
fi
exec "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning $cds $KEYLIME_ATTESTOR_JAVA_OPTS --enable-native-access=ALL-UNNAMED -cp "$self" "$main" "$@"
