#!/bin/sh
# Launcher of a keylime-attestor SPIRE plugin. The plugin's jar is appended to this very file, so
# SPIRE's plugin_checksum covers everything that runs. Needs a Java 17 or newer runtime.
#   KEYLIME_ATTESTOR_JAVA        java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   KEYLIME_ATTESTOR_TUNING      JVM start-up flags (default below; set it empty to measure without)
#   KEYLIME_ATTESTOR_JAVA_OPTS   extra JVM options, appended last (under SPIRE what they print on
#                                stdout goes to stderr: the handshake has a descriptor of its own)
#   KEYLIME_ATTESTOR_CDS=off     ignore the class-data archive
#   MALLOC_ARENA_MAX             glibc malloc arenas (default 2 here)
# A class-data archive "<this file>.jsa" is used when it exists, is owned by root or by the user running
# the plugin, and is writable by neither group nor others (plugin_checksum does not cover it: a user
# who merely owns this file, or may write its directory, could otherwise put in an archive of another
# jar the JVM takes for this one, since it checks only the jar's path, size and mtime); "<this file>
# --train-cds" makes it, 0644 (redo it after every upgrade of the file or the JVM): one run that calls
# itself as SPIRE would records the classes it loads, then the JVM dumps a static archive of exactly
# those, the JDK's and ours, used in place of the JDK's default archive (a dynamic archive on top of
# that one kept all of the JDK's resident as well: 2.3 MB more RSS). The archive records this file's
# absolute path, resolved below, so it is used whatever directory or relative path SPIRE starts the
# plugin from.
# The JVM's own messages go to stderr: stdout carries only the go-plugin handshake line.
# -cp with the main class (filled in at build time) rather than -jar: -jar opens the jar once more
# only to read the manifest, and reading the central directory of 18,000 entries twice costs about
# 10 ms of the start-up (integration-tests/bench/startup.sh). --enable-native-access is what the
# manifest's Enable-Native-Access says for -jar.
main=@PLUGIN_MAIN_CLASS@
unset CDPATH
# Set below for a plugin served under a go-plugin host only, never taken from the caller's environment.
unset KEYLIME_ATTESTOR_HANDSHAKE_FD
case $0 in
  */*) self=$0 ;;
  *) if [ -f "$0" ]; then self=./$0; else self=$(command -v -- "$0") || self=$0; fi ;;
esac
nl='
'
# the "." keeps a line break that ends the directory's name, which $(...) would strip
dir=$(cd -P -- "${self%/*}/" && pwd -P && echo .) || { echo "keylime-attestor: cannot resolve the directory of $self" >&2; exit 1; }
dir=${dir%"$nl."}
self=${dir%/}/${self##*/}
case $self in
  *:*) echo "keylime-attestor: cannot run from $self: Java splits its class path at ':', so it would load classes from elsewhere; install the plugin under a path without ':'" >&2; exit 1 ;;
esac
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
# Idle wake-ups: the monitor-deflation thread checks every 10 s instead of every 250 ms, and no
# safepoint is forced every second (JDK 25's default): an idle plugin 0.34 -> 0.19 ms of CPU a second.
# -XX:+IgnoreUnrecognizedVMOptions: TrimNativeHeapInterval is a product flag only from 17.0.11 on;
# an older Java 17 starts without the trimming instead of refusing to start.
tuning=${KEYLIME_ATTESTOR_TUNING--XX:+IgnoreUnrecognizedVMOptions -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -Xss256k -Xms4m -Xmn2m -Xmx64m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:-ShrinkHeapInSteps -XX:TrimNativeHeapInterval=10000 -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m -XX:-UsePerfData -XX:+UnlockDiagnosticVMOptions -XX:AsyncDeflationInterval=10000 -XX:GuaranteedSafepointInterval=0 -Dio.grpc.netty.useCustomAllocator=false -Dio.netty.allocator.type=unpooled}
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_ARENA_MAX
# Sets why to empty if the archive may be used, else to why not. One ls: each fork and exec here is
# about a millisecond of the plugin's start-up. ls -n is POSIX, stat -c is not; -L follows symlinks,
# as the JVM opens them.
archive_check() {
  why=
  [ -r "$self.jsa" ] || { why="not readable"; return; }
  case $self in *"$nl"*) why="the plugin's path has a line break"; return ;; esac
  listing=$(LC_ALL=C ls -lLdn -- "$self.jsa" 2>/dev/null) || { why="cannot read its owner and mode"; return; }
  set -f
  set -- $listing
  a_mode=${1-} a_uid=${3-}
  set +f
  [ -n "$a_uid" ] || { why="cannot read its owner and mode"; return; }
  case $a_mode in
    -????w*|-???????w*) why="writable by group or others (mode $a_mode)"; return ;;
    -*) ;;
    *) why="not a regular file"; return ;;
  esac
  # -O: owned by the effective user (a test builtin in dash, bash and busybox sh; no fork)
  if [ "$a_uid" != 0 ] && [ ! -O "$self.jsa" ]; then
    why="owned by uid $a_uid, neither root nor the user running the plugin"; return
  fi
  # An executable changed or replaced since the training: the JVM would refuse the archive (Java 17
  # without a word) and start with none, not even the JDK's default one, which the archive replaces.
  # (-nt is in dash, bash and busybox sh; a replacement that kept an older mtime is left to the JVM.)
  if [ "$self" -nt "$self.jsa" ]; then
    why="it is older than the plugin executable, so it was made for an earlier one"
  fi
}

# The dump's own warnings (classes it cannot archive: JFR events, proxies) are left out (cds=error).
# Training checks that the archive holds the plugin's own classes: a start with it (--dry-run: up to
# loading the main class) must load $main from the archive, not from the jar. Java before 24 archives
# no class of a jar whose absolute path a file: URL escapes (a space, any of "#%;<=>?[\]^`{|}, a
# control or non-ASCII character): HotSpot compares the jar's path with the classes' source URL
# without decoding it (JDK-8339460, fixed in 24), so the archive held JDK classes only and the plugin
# started as without one. Such a training fails and says so rather than leave a useless archive.
if [ "$1" = "--train-cds" ]; then
  # The class list goes to a new private directory, not beside the executable: the JVM opens it with
  # fopen("w"), which would follow a symlink planted there.
  tmp=$(mktemp -d) || { echo "keylime-attestor: --train-cds: cannot make a temporary directory" >&2; exit 1; }
  trap 'rm -rf -- "$tmp"' EXIT
  trap 'rm -f -- "$self.jsa"; exit 1' HUP INT TERM
  list=$tmp/classlist
  rm -f -- "$self.jsa"
  "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning -XX:DumpLoadedClassList="$list" $KEYLIME_ATTESTOR_JAVA_OPTS --enable-native-access=ALL-UNNAMED -cp "$self" "$main" --train-cds &&
  "$java" -Xlog:disable -Xlog:all=warning:stderr -Xlog:cds=error:stderr $tuning -Xshare:dump -XX:SharedClassListFile="$list" -XX:SharedArchiveFile="$self.jsa" $KEYLIME_ATTESTOR_JAVA_OPTS --enable-native-access=ALL-UNNAMED -cp "$self" >&2
  rc=$?
  if [ "$rc" -ne 0 ]; then rm -f -- "$self.jsa"; exit "$rc"; fi
  loaded=$("$java" -Xlog:disable -Xlog:all=warning:stderr $tuning -XX:SharedArchiveFile="$self.jsa" $KEYLIME_ATTESTOR_JAVA_OPTS -Xlog:class+load=info:stdout --enable-native-access=ALL-UNNAMED -cp "$self" --dry-run "$main")
  case $loaded in
    *" $main source: shared objects file"*) ;;
    *)
      rm -f -- "$self.jsa"
      LC_ALL=C # for the bracket expression below
      case $self in
        *[!A-Za-z0-9/._~!\$\&\'\(\)*+,:@-]*)
          echo "keylime-attestor: --train-cds made no class-data archive: the JVM did not archive the plugin's classes from $self. Java before 24 cannot when the path holds a space or another character a file: URL escapes (JDK-8339460). Install the plugin under a path of letters, digits and /._- only, or run it on Java 24 or newer (KEYLIME_ATTESTOR_JAVA); the plugin runs without the archive meanwhile." >&2 ;;
        *)
          echo "keylime-attestor: --train-cds made no class-data archive: the JVM did not load the plugin's classes from it; to see why: KEYLIME_ATTESTOR_JAVA_OPTS='-Xlog:cds=info,class+path=info' $self --train-cds" >&2 ;;
      esac
      exit 1 ;;
  esac
  chmod 0644 "$self.jsa" || exit 1
  # An executable whose mtime is ahead of the clock (unpacked from elsewhere) looks newer than the
  # archive just made for it; the JVM checks the mtime it recorded, so the archive is good.
  if [ "$self" -nt "$self.jsa" ]; then touch -r "$self" "$self.jsa" || exit 1; fi
  # What a start checks, so a training the plugin would then ignore fails now instead of at every start.
  archive_check
  if [ -n "$why" ]; then
    rm -f -- "$self.jsa"
    echo "keylime-attestor: --train-cds made no class-data archive: the plugin would not use it: $why; train as root or as the user SPIRE runs the plugin as" >&2
    exit 1
  fi
  exit 0
fi

# cdsname tells the plugin which archive it was given: a JVM that refuses it (one of another Java
# version or build than the training's) starts without any, silently on Java 17, and the plugin says so.
cds= cdsname=
if [ "${KEYLIME_ATTESTOR_CDS:-on}" = on ] && [ -e "$self.jsa" ]; then
  archive_check
  if [ -z "$why" ]; then cds="-XX:SharedArchiveFile=$self.jsa" cdsname="-Dkeylime.attestor.cds=$self.jsa"
  else echo "keylime-attestor: ignoring class-data archive $self.jsa: $why; remake it with: $self --train-cds" >&2
  fi
fi
# Under a go-plugin host (PLUGIN_PROTOCOL_VERSIONS) stdout is for the handshake line alone, but the JVM
# writes some things to fd 1 whatever -Xlog says: a thread dump on SIGQUIT, the fatal-error banner.
# So fd 1 becomes stderr, which SPIRE logs, and the handshake goes to fd 3, the host's stdout. The
# plugin reopens fd 3 through /proc, which the kernel checks as a new open: not for a socket (refused),
# nor for a pipe this user may not open (a wrapper in plugin_cmd that dropped privileges gets the
# host's pipe, 0600 and root's), nor without a stderr to point fd 1 at. Then stdout stays as it was,
# and HotSpot's own output (thread dumps; not the fatal-error banner) is sent to stderr by a flag.
vmout=
if [ -n "${PLUGIN_PROTOCOL_VERSIONS+set}" ]; then
  if [ -e /proc/self/fd/1 ] && [ ! -S /proc/self/fd/1 ] && [ -w /proc/self/fd/1 ] && [ -e /proc/self/fd/2 ]; then
    KEYLIME_ATTESTOR_HANDSHAKE_FD=3
    export KEYLIME_ATTESTOR_HANDSHAKE_FD
    exec 3>&1 1>&2
  else
    vmout=-XX:+DisplayVMOutputToStderr
  fi
fi
exec "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning ${cds:+"$cds"} ${cdsname:+"$cdsname"} ${vmout:+"$vmout"} $KEYLIME_ATTESTOR_JAVA_OPTS --enable-native-access=ALL-UNNAMED -cp "$self" "$main" "$@"
