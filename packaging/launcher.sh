#!/bin/sh
# Launcher of a keylime-attestor SPIRE plugin. The plugin's jar is appended to this very file, so
# SPIRE's plugin_checksum covers everything that runs. Needs a Java 17 or newer runtime.
#   KEYLIME_ATTESTOR_JAVA        java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   KEYLIME_ATTESTOR_TUNING      JVM start-up flags (default below; set it empty to measure without)
#   KEYLIME_ATTESTOR_JAVA_OPTS   extra JVM options, appended last
#   KEYLIME_ATTESTOR_CDS=off     ignore the class-data archive
#   MALLOC_ARENA_MAX             glibc malloc arenas (default 2 here)
# A class-data archive "<this file>.jsa" is used when it exists, is owned by this file's owner or root
# and is writable by neither group nor others (plugin_checksum does not cover it); "<this file>
# --train-cds" makes it, 0644 (one run that calls itself as SPIRE would; redo it after every upgrade
# of the file or the JVM). The archive records this file's absolute path, resolved below, so it is
# used whatever directory or relative path SPIRE starts the plugin from.
# The JVM's own messages go to stderr: stdout carries only the go-plugin handshake line.
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
# Resident memory: a 2 MB young generation (eden is touched in full between collections) and an old
# one kept within 10-30% of what is live, given back at once after a burst (-ShrinkHeapInSteps);
# -Xmx64m still takes 256 streams of 64 KiB at once (PluginMain). Native: malloc's free pages go back
# to the kernel every 10 s, and at most 2 malloc arenas instead of one per thread that ever allocated.
tuning=${KEYLIME_ATTESTOR_TUNING--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -Xss256k -Xms4m -Xmn2m -Xmx64m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:-ShrinkHeapInSteps -XX:TrimNativeHeapInterval=10000 -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m -XX:-UsePerfData -Dio.grpc.netty.useCustomAllocator=false -Dio.netty.allocator.type=unpooled}
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_ARENA_MAX
if [ "$1" = "--train-cds" ]; then
  rm -f -- "$self.jsa"
  "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning -XX:ArchiveClassesAtExit="$self.jsa" $KEYLIME_ATTESTOR_JAVA_OPTS -jar "$self" --train-cds
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
exec "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning $cds $KEYLIME_ATTESTOR_JAVA_OPTS -jar "$self" "$@"
