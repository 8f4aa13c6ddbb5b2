#!/bin/sh
# Launcher of a keylime-attestor SPIRE plugin. The plugin's jar is appended to this very file, so
# SPIRE's plugin_checksum covers everything that runs. Needs a Java 17 or newer runtime.
#   KEYLIME_ATTESTOR_JAVA        java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   KEYLIME_ATTESTOR_TUNING      JVM start-up flags (default below; set it empty to measure without)
#   KEYLIME_ATTESTOR_JAVA_OPTS   extra JVM options, appended last
# A class-data archive "<this file>.jsa" is used when it exists; "<this file> --train-cds" makes it
# (one run that calls itself as SPIRE would; redo it after every upgrade of the file or the JVM).
# The JVM's own messages go to stderr: stdout carries only the go-plugin handshake line.
self=$0
if [ -n "$KEYLIME_ATTESTOR_JAVA" ]; then java=$KEYLIME_ATTESTOR_JAVA
elif [ -n "$JAVA_HOME" ]; then java=$JAVA_HOME/bin/java
else java=java
fi
# C1 only, serial GC, small stacks/heap; unpooled Netty buffers (a plugin moves a few small messages
# per attestation; pooled direct arenas only cost resident memory).
tuning=${KEYLIME_ATTESTOR_TUNING--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -Xss256k -Xms8m -Xmx64m -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m -Dio.grpc.netty.useCustomAllocator=false -Dio.netty.allocator.type=unpooled}
if [ "$1" = "--train-cds" ]; then
  rm -f "$self.jsa"
  exec "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning -XX:ArchiveClassesAtExit="$self.jsa" $KEYLIME_ATTESTOR_JAVA_OPTS -jar "$self" --train-cds
fi
cds=
if [ -r "$self.jsa" ] && [ "${KEYLIME_ATTESTOR_CDS:-on}" = on ]; then cds="-XX:SharedArchiveFile=$self.jsa"; fi
exec "$java" -Xlog:disable -Xlog:all=warning:stderr $tuning $cds $KEYLIME_ATTESTOR_JAVA_OPTS -jar "$self" "$@"
