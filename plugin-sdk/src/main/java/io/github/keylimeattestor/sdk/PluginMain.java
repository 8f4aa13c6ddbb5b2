package io.github.keylimeattestor.sdk;

import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.sdk.internal.BrokerService;
import io.github.keylimeattestor.sdk.internal.ConfigService;
import io.github.keylimeattestor.sdk.internal.ControllerService;
import io.github.keylimeattestor.sdk.internal.HealthService;
import io.github.keylimeattestor.sdk.internal.InitService;
import io.github.keylimeattestor.sdk.internal.StdioService;
import io.github.keylimeattestor.sdk.log.JulBridge;
import io.github.keylimeattestor.sdk.log.Log;
import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.goplugin.GRPCBrokerGrpc;
import io.github.keylimeattestor.proto.health.HealthCheckRequest;
import io.github.keylimeattestor.proto.health.HealthGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigureRequest;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.config.ValidateRequest;
import io.github.keylimeattestor.proto.spire.init.InitGrpc;
import io.github.keylimeattestor.proto.spire.init.InitRequest;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerMethodDefinition;
import io.grpc.StatusRuntimeException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The plugin side of go-plugin plus SPIRE's pluginmain: call {@link #serve} from {@code main}.
 *
 * <p>Order matters: stdout is taken away from everything but the handshake line before any library
 * loads; the socket listens before the handshake is printed; Shutdown replies before the exit.
 *
 * <p>The handshake line goes out as soon as the plugin socket listens (a JDK Unix-domain channel),
 * before Netty and gRPC are built: go-plugin dials when it reads the line, and its connection waits
 * in the socket's backlog until the gRPC server accepts it, so the host's work after the handshake
 * overlaps with ours. A server that then fails to start logs why and exits 1, which SPIRE reports as
 * the plugin exiting.
 */
public final class PluginMain {
  /**
   * SPIRE uses the plugin type as magic-cookie key and value; every NodeAttestor gets this one. An
   * executable serving several plugin types ({@link #serve(String[], Plugin...)}) looks for each
   * type's cookie and serves the plugin whose type the host asked for.
   */
  public static final String COOKIE_KEY = "NodeAttestor";
  public static final String COOKIE_VALUE = "NodeAttestor";
  static final String NOT_A_PROGRAM = "This binary is a plugin. These are not meant to be executed directly.\n"
      + "Please execute the program that consumes these plugins, which will\n"
      + "load any plugins automatically\n";

  /**
   * Largest gRPC message a plugin accepts from its host: 64 KiB. What SPIRE relays to us is far
   * smaller: an attestation payload (WireFormat caps it at 4 KiB; about 400 bytes in practice), a
   * SovereignAttestation (capped at 32 KiB; 2126 bytes measured with an RSA-2048 AK quoting PCR 16,
   * under 5 KiB for an RSA-4096 AK quoting all 24 PCRs of one bank), a challenge (under 200 bytes) and
   * {@code plugin_data} (HclParser takes at most 16 Ki characters). 64 KiB is twice the largest
   * SovereignAttestation the server would even decode. See plugin-server/README.md.
   */
  public static final int MAX_INBOUND_MESSAGE_BYTES = 64 * 1024;

  /**
   * Most calls of the plugin's own service (NodeAttestor, KeyManager, CredentialComposer) at once:
   * 256; one more is refused at once with Unavailable ({@link CallLimit}). The message bound alone does
   * not bound memory: 1500 concurrent 64 KiB payloads still exhausted the launcher's 64 MB of direct
   * memory (1000 did not). A stream holds its slot for at most challenge_timeout per step.
   */
  public static final int MAX_CONCURRENT_STREAMS = 256;

  /**
   * Streams beyond those kept for go-plugin's and SPIRE's control calls (health, broker, Init,
   * Configure, Deinit, Shutdown) on the same connection: the HTTP/2 limit
   * (SETTINGS_MAX_CONCURRENT_STREAMS; SPIRE uses one connection per plugin) is the two together, so
   * attestations holding every slot of theirs cannot hold SPIRE's unload behind them. (256 + 16) x 64
   * KiB is 17 MiB at most.
   */
  public static final int CONTROL_STREAMS = 16;

  /** Connections the plugin socket queues before the server accepts them; SPIRE makes one. */
  static final int LISTEN_BACKLOG = 16;

  private static final Log LOG = Log.named("pluginmain");

  private final Plugin plugin;
  private final AtomicBoolean stopped = new AtomicBoolean();
  // read by stop() on the Controller's or a shutdown thread
  private volatile Transport transport;
  private volatile ServerSocketChannel listening;
  private volatile Path socketDir;
  private volatile Path socket;
  private volatile Server server;
  private volatile HostServices hostServices;

  static final String HANDSHAKE_FD = "KEYLIME_ATTESTOR_HANDSHAKE_FD";

  PluginMain(Plugin plugin) {
    this.plugin = plugin;
  }

  /** Serves {@code plugin} until SPIRE shuts it down; never returns normally. */
  public static void serve(Plugin plugin) {
    serve(plugin, new String[0]);
  }

  /**
   * As {@link #serve(Plugin)}; {@code --train-cds} instead makes one round of host calls against
   * itself and exits, so the launcher can record a class-data archive (see packaging/launcher.sh).
   */
  public static void serve(Plugin plugin, String[] args) {
    serve(args, plugin);
  }

  /** The class-data archive the launcher gave the JVM (-XX:SharedArchiveFile), if any. */
  static final String ARCHIVE_PROPERTY = "keylime.attestor.cds";

  /**
   * What to say when the JVM was given the class-data archive but is not sharing: it refused it
   * (made by another Java version or build: an upgrade since the training, or KEYLIME_ATTESTOR_JAVA
   * or JAVA_HOME not the training's), which Java 17 does without a word, and then maps no archive at
   * all, not even the JDK's own.
   */
  static java.util.Optional<String> warnIfTheArchiveWasRefused(String archive, String vmInfo) {
    if (archive == null || vmInfo.contains("sharing")) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of("this JVM did not use the plugin's class-data archive (made by another Java, e.g. "
        + "before an upgrade, or with another KEYLIME_ATTESTOR_JAVA or JAVA_HOME than SPIRE's): the plugin starts "
        + "without any archive, slower than with none trained; remake it with the Java SPIRE runs the plugin with: "
        + archive.substring(0, archive.length() - (archive.endsWith(".jsa") ? 4 : 0)) + " --train-cds");
  }

  /**
   * Serves the one of {@code plugins} whose {@link Plugin#type} the host's magic cookie names (SPIRE
   * sets {@code <Type>=<Type>} from the plugin block), so one executable can be a NodeAttestor and,
   * in another plugin block, a KeyManager. {@code --train-cds} trains every one of them.
   */
  public static void serve(String[] args, Plugin... plugins) {
    PrintStream handshakeOut = handshakeStream(System.getenv());
    System.setOut(System.err);
    // anything that escapes a thread (an Error on a gRPC thread) is logged as hclog, not as the JVM's
    // plain-text stack trace, which go-plugin files at DEBUG line by line
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> LOG.error("uncaught throwable on a plugin thread", "thread",
        t.getName(), "error", e, "at", topFrames(e, 5)));
    StartupWarmUp.start();
    if (args.length > 0 && args[0].equals("--version")) {
      handshakeOut.print(BuildInfo.current().line() + "\n");
      handshakeOut.flush();
      System.exit(0);
    }
    if (args.length > 0 && args[0].equals("--train-cds")) {
      setUpLibraries();
      boolean ok = true;
      for (Plugin p : plugins) {
        ok &= new PluginMain(p).train();
      }
      System.exit(ok ? 0 : 1);
    }

    Plugin plugin = choose(System.getenv(), plugins);
    String problem = plugin == null ? NOT_A_PROGRAM : checkEnvironment(System.getenv(), plugin.type());
    if (problem != null) {
      System.err.print(problem);
      System.err.flush();
      System.exit(1);
    }
    warnIfTheArchiveWasRefused(System.getProperty(ARCHIVE_PROPERTY), System.getProperty("java.vm.info", ""))
        .ifPresent(w -> LOG.warn(w, "archive", System.getProperty(ARCHIVE_PROPERTY), "java",
            System.getProperty("java.home") + " " + System.getProperty("java.vm.version")));
    PluginMain main = new PluginMain(plugin);
    try {
      String line = main.listen(System.getenv());
      handshakeOut.print(line + "\n");
      handshakeOut.flush();
      setUpLibraries();
      main.serve();
      ExecutableWatch.start(main::removeSocket);
      main.awaitTermination();
    } catch (Throwable t) {
      LOG.error("plugin failed to start", "error", t);
      main.stop();
      System.exit(1);
    }
    System.exit(0);
  }

  /**
   * Where the handshake line goes: stdout, or the descriptor the launcher names in
   * {@code KEYLIME_ATTESTOR_HANDSHAKE_FD} when it has pointed fd 1 at stderr, so that what the JVM
   * writes to fd 1 on its own (thread dumps on SIGQUIT, the fatal-error banner) reaches SPIRE's log
   * instead of go-plugin's stdout. Exits 1 if that descriptor cannot be opened.
   */
  static PrintStream handshakeStream(Map<String, String> env) {
    String fd = env.get(HANDSHAKE_FD);
    if (fd == null) {
      return new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.US_ASCII);
    }
    try {
      boolean number = !fd.isEmpty() && fd.length() <= 4;
      for (int i = 0; i < fd.length(); i++) {
        number &= fd.charAt(i) >= '0' && fd.charAt(i) <= '9';
      }
      if (!number) {
        throw new IOException("not a file descriptor number");
      }
      // append: a regular file given as stdout is not truncated by this second open
      return new PrintStream(new FileOutputStream("/proc/self/fd/" + fd, true), false, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      System.err.print("keylime-attestor: cannot write the go-plugin handshake to " + HANDSHAKE_FD + "=" + fd + " ("
          + e.getMessage() + "); it is the launcher's to set: start the plugin through its executable, or unset it\n");
      System.err.flush();
      System.exit(1);
      throw new AssertionError(e);
    }
  }

  /** The first {@code n} frames of {@code e}'s stack, for one log line (a StackOverflowError has a thousand). */
  static String topFrames(Throwable e, int n) {
    StackTraceElement[] st = e.getStackTrace();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(n, st.length); i++) {
      b.append(i == 0 ? "" : " < ").append(st[i]);
    }
    return b.toString();
  }

  /** Before the first Netty or gRPC class loads: their logging, and no native transport. */
  private static void setUpLibraries() {
    // No plugin uses Netty's native transports (the JDK's Unix-domain channels serve and dial; the
    // executables ship none), but grpc-netty asks for epoll when it loads, which on a class path that
    // has it copies epoll's library out of the jar and links it (about 5 ms). An operator's own
    // -Dio.netty.transport.noNative wins.
    if (System.getProperty("io.netty.transport.noNative") == null) {
      System.setProperty("io.netty.transport.noNative", "true");
    }
    JulBridge.install(java.util.logging.Level.WARNING);
    // Netty would otherwise look for slf4j first (ServiceLoader, ~30 classes) only to end up in JUL too.
    io.netty.util.internal.logging.InternalLoggerFactory.setDefaultFactory(
        io.netty.util.internal.logging.JdkLoggerFactory.INSTANCE);
  }

  /** The plugin whose type's magic cookie is set in {@code env}, or null. */
  static Plugin choose(Map<String, String> env, Plugin... plugins) {
    for (Plugin p : plugins) {
      if (p.type().equals(env.get(p.type()))) {
        return p;
      }
    }
    return null;
  }

  /** Null if the environment is a go-plugin host's for a NodeAttestor, else the message go-plugin prints. */
  static String checkEnvironment(Map<String, String> env) {
    return checkEnvironment(env, COOKIE_KEY);
  }

  /** Null if the environment is a go-plugin host's for plugin type {@code type}, else the message go-plugin prints. */
  static String checkEnvironment(Map<String, String> env, String type) {
    if (!type.equals(env.get(type))) {
      return NOT_A_PROGRAM;
    }
    String versions = env.get("PLUGIN_PROTOCOL_VERSIONS");
    if (versions == null || versions.isBlank()) {
      return null;
    }
    for (String v : versions.split(",", -1)) {
      if (v.trim().equals("1")) {
        return null;
      }
    }
    return "Incompatible API version with plugin. Plugin version: 1, Client versions: [" + versions + "]\n";
  }

  /**
   * A new directory {@code <parent>/plugin<random>}, mode 0700, as Files.createTempDirectory makes it
   * but without its SecureRandom, whose provider set-up is a few milliseconds before the handshake. The
   * name must be unique, not secret: the directory is made atomically with owner-only access and an
   * existing path (whoever made it) is never used.
   */
  static Path createSocketDirectory(Path parent) throws IOException {
    FileAttribute<Set<PosixFilePermission>> ownerOnly =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    for (int attempt = 1; ; attempt++) {
      Path dir = parent.resolve("plugin" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()));
      try {
        return Files.createDirectory(dir, ownerOnly);
      } catch (FileAlreadyExistsException e) {
        if (attempt == 100) {
          throw e;
        }
      }
    }
  }

  /**
   * Where the socket directory goes, as go-plugin's own plugins choose it: PLUGIN_UNIX_SOCKET_DIR,
   * else os.TempDir(), which is $TMPDIR or /tmp (the JVM's java.io.tmpdir ignores $TMPDIR).
   */
  static Path socketParent(Map<String, String> env) {
    String base = env.getOrDefault("PLUGIN_UNIX_SOCKET_DIR", "");
    if (base.isEmpty()) {
      base = env.getOrDefault("TMPDIR", "");
    }
    return Paths.get(base.isEmpty() ? "/tmp" : base);
  }

  /** Listens, serves and returns the handshake line (without newline). */
  String start(Map<String, String> env) throws IOException {
    String line = listen(env);
    serve();
    return line;
  }

  /**
   * Binds the plugin socket and returns the handshake line (without newline). Connections wait in the
   * socket's backlog until {@link #serve} accepts them.
   */
  String listen(Map<String, String> env) throws IOException {
    ignoreHostSignals();
    Path parent = socketParent(env);
    socketDir = createSocketDirectory(parent);
    socket = socketDir.resolve("plugin.sock");
    Runtime.getRuntime().addShutdownHook(new Thread(this::removeSocket, "plugin-cleanup"));
    listening = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listening.bind(UnixDomainSocketAddress.of(socket), LISTEN_BACKLOG);
    return "1|1|unix|" + socket.toAbsolutePath() + "|grpc|";
  }

  /** Serves the plugin's and go-plugin's services on the socket {@link #listen} bound. */
  void serve() throws IOException {
    transport = new Transport();
    BrokerService broker = new BrokerService(HostServices.HOST_SERVICE_PROVIDER_ID);
    String pluginServiceName = plugin.pluginService().getServiceDescriptor().getName();
    List<String> names = List.of(pluginServiceName, ConfigGrpc.SERVICE_NAME);
    InitService init = new InitService(names,
        offered -> {
          HostServices previous = hostServices; // a host that calls Init again: the first one's channel goes
          hostServices = new HostServices(broker.connInfo(), offered, transport);
          LOG.debug("initialised", "host_services", String.join(",", offered));
          plugin.init(hostServices);
          if (previous != null) {
            previous.close(); // once the plugin holds the new stubs
          }
        },
        this::deinit);
    List<BindableService> internal = List.of(new HealthService(), broker, new ControllerService(this::shutdownAndExit),
        new StdioService(), init, new ConfigService(plugin));
    server = transport.serve(listening, List.of(io.grpc.ServerInterceptors.intercept(plugin.pluginService(),
        new CallLimit(MAX_CONCURRENT_STREAMS, plugin.name()))), internal);
    LOG.info("plugin serving", "plugin", plugin.name(), "type", plugin.type(), "pid", ProcessHandle.current().pid(), "socket", socket.toString());
  }

  /** Starts, calls itself as SPIRE would (health, broker, Init, Config), stops. */
  private boolean train() {
    try {
      start(Map.of());
      ManagedChannel ch = transport.dial(socket.toString());
      HealthGrpc.newBlockingStub(ch).check(HealthCheckRequest.newBuilder().setService("plugin").build());
      GRPCBrokerGrpc.newStub(ch).startStream(Observers.<ConnInfo>ignoring()).onNext(ConnInfo.newBuilder().setServiceId(HostServices.HOST_SERVICE_PROVIDER_ID).setNetwork("unix")
          .setAddress(socketDir.resolve("none.sock").toString()).build());
      InitGrpc.newBlockingStub(ch).init(InitRequest.newBuilder().addHostServiceNames(HostServices.METRICS).build());
      CoreConfiguration core = CoreConfiguration.newBuilder().setTrustDomain("example.org").build();
      ConfigGrpc.newBlockingStub(ch).validate(ValidateRequest.newBuilder().setCoreConfiguration(core).build());
      // An empty configuration may well be refused, and the plugin logs that as an error; the classes on that
      // path are loaded anyway, and a training run that works should not print errors.
      Log.redirect(java.io.OutputStream.nullOutputStream());
      try {
        ConfigGrpc.newBlockingStub(ch).configure(ConfigureRequest.newBuilder().setCoreConfiguration(core).build());
      } catch (StatusRuntimeException e) {
        // expected, see above
      } finally {
        Log.redirect(System.err);
      }
      trainAttestation(ch);
      ch.shutdownNow();
      LOG.info("class-data training run done");
      return true;
    } catch (IOException | RuntimeException e) {
      LOG.error("class-data training run failed", "error", e);
      return false;
    } finally {
      stop();
    }
  }

  /**
   * The attestation paths, offline: each streaming method of the plugin's service opened and answered
   * (unconfigured, it refuses at once: gRPC's streaming classes on both sides), then the plugin's own
   * {@link Plugin#trainOffline}. Failures only leave classes out of the archive.
   */
  private void trainAttestation(ManagedChannel ch) {
    for (ServerMethodDefinition<?, ?> m : plugin.pluginService().getMethods()) {
      if (m.getMethodDescriptor().getType() == MethodDescriptor.MethodType.BIDI_STREAMING) {
        openAndAwait(ch, m.getMethodDescriptor());
      }
    }
    try {
      plugin.trainOffline();
    } catch (Exception e) {
      LOG.warn("class-data training of the attestation paths failed; the archive holds fewer classes",
          "error", e);
    }
  }

  private static <Q, R> void openAndAwait(ManagedChannel ch, MethodDescriptor<Q, R> method) {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    io.grpc.stub.StreamObserver<Q> requests = io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
        ch.newCall(method, io.grpc.CallOptions.DEFAULT), new io.grpc.stub.StreamObserver<R>() {
          @Override
          public void onNext(R value) {}

          @Override
          public void onError(Throwable t) {
            done.countDown();
          }

          @Override
          public void onCompleted() {
            done.countDown();
          }
        });
    try {
      if (!done.await(5, TimeUnit.SECONDS)) {
        requests.onError(new IllegalStateException("class-data training: no answer"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  private void deinit() {
    try {
      plugin.close();
    } catch (RuntimeException e) {
      LOG.warn("plugin close failed", "error", e);
    }
  }

  private void shutdownAndExit() {
    LOG.debug("shutdown requested by the host");
    stop();
    System.exit(0);
  }

  void stop() {
    if (!stopped.compareAndSet(false, true)) {
      return;
    }
    if (hostServices != null) {
      hostServices.close();
    }
    if (server != null) {
      server.shutdownNow();
      try {
        server.awaitTermination(500, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (transport != null) {
      transport.close();
    }
    if (listening != null) {
      try {
        listening.close();
      } catch (IOException e) {
        LOG.debug("closing the plugin socket failed", "error", e);
      }
    }
    removeSocket();
  }

  private void removeSocket() {
    try {
      if (socket != null) {
        Files.deleteIfExists(socket);
      }
      if (socketDir != null) {
        Files.deleteIfExists(socketDir);
      }
    } catch (IOException e) {
      LOG.warn("could not remove the plugin socket", "path", String.valueOf(socketDir), "error", e);
    }
  }

  /**
   * go-plugin ignores SIGINT so that Ctrl-C on SPIRE does not kill plugins before SPIRE unloads them.
   * SIGUSR1 is SPIRE's "reload plugin_data_file" (pkg/common/catalog/configure_posix.go), which
   * `systemctl kill -s USR1` or a kill of the process group also sends to its plugins: a Go plugin
   * ignores it (the Go runtime does), a JVM's default is to die. (SIGUSR2 is the JVM's own.)
   * sun.misc.Signal (jdk.unsupported) is reached by reflection: javac warns at every direct use of it, a
   * warning that no @SuppressWarnings turns off, and the build compiles with -Werror.
   */
  private static void ignoreHostSignals() {
    for (String name : new String[] {"INT", "USR1"}) {
      try {
        Class<?> signal = Class.forName("sun.misc.Signal");
        Class<?> handler = Class.forName("sun.misc.SignalHandler");
        signal.getMethod("handle", signal, handler)
            .invoke(null, signal.getConstructor(String.class).newInstance(name), handler.getField("SIG_IGN").get(null));
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.debug("a signal cannot be ignored on this platform", "signal", name, "error", e);
      }
    }
  }
}
