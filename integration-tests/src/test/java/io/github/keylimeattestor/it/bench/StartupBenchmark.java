package io.github.keylimeattestor.it.bench;

import io.github.keylimeattestor.proto.goplugin.ConnInfo;
import io.github.keylimeattestor.proto.goplugin.Empty;
import io.github.keylimeattestor.proto.goplugin.GRPCBrokerGrpc;
import io.github.keylimeattestor.proto.goplugin.GRPCControllerGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigGrpc;
import io.github.keylimeattestor.proto.spire.config.ConfigureRequest;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.init.InitGrpc;
import io.github.keylimeattestor.proto.spire.init.InitRequest;
import io.github.keylimeattestor.sdk.Observers;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Start-up figures of a plugin executable, measured the way SPIRE starts it: exec to handshake line
 * (median of N runs) and the process RSS right after Init + Configure. Runs each configuration
 * round-robin so machine noise spreads evenly. Usage: see integration-tests/bench/startup.sh.
 * Arguments: {@code <executable>=<plugin_data file>} each.
 */
public final class StartupBenchmark {
  record Config(String name, Map<String, String> env) {}

  /** Exec to handshake line; exec to Init answered (SPIRE's first call, after the broker stream); RSS after Configure. */
  record Sample(double handshakeMs, double initMs, long rssKb) {}

  public static void main(String[] args) throws Exception {
    int runs = Integer.getInteger("runs", 10);
    // ended by a signal (startup.sh forwards SIGTERM and SIGINT): the plugin or training run in flight goes too
    Runtime.getRuntime().addShutdownHook(new Thread(
        () -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly), "bench-stop"));
    List<Config> configs = List.of(
        new Config("plain JVM (no tuning flags, no CDS)", Map.of("KEYLIME_ATTESTOR_TUNING", "", "KEYLIME_ATTESTOR_CDS", "off")),
        new Config("launcher tuning flags, no CDS", Map.of("KEYLIME_ATTESTOR_CDS", "off")),
        new Config("launcher tuning flags + CDS archive", Map.of()));
    MultiThreadIoEventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      // each argument: <executable>=<file holding the plugin_data to configure it with>
      List<String> exes = new ArrayList<>();
      List<String> hcls = new ArrayList<>();
      for (String arg : args) {
        exes.add(arg.substring(0, arg.indexOf('=')));
        hcls.add(Files.readString(Path.of(arg.substring(arg.indexOf('=') + 1))));
        train(exes.get(exes.size() - 1));
      }
      // samples.get(e).get(c): executable e in configuration c. Round-robin over executables and
      // configurations in every run, so a baseline and ours see the same machine load.
      List<List<List<Sample>>> samples = new ArrayList<>();
      for (int e = 0; e < exes.size(); e++) {
        List<List<Sample>> perConfig = new ArrayList<>();
        configs.forEach(c -> perConfig.add(new ArrayList<>()));
        samples.add(perConfig);
      }
      for (int i = 0; i < runs; i++) {
        for (int e = 0; e < exes.size(); e++) {
          for (int c = 0; c < configs.size(); c++) {
            samples.get(e).get(c).add(once(exes.get(e), configs.get(c).env(), hcls.get(e), loop));
          }
        }
      }
      for (int e = 0; e < exes.size(); e++) {
        String exe = exes.get(e);
        System.out.printf("%n%s (%s, %d runs each, JVM: %s)%n", Path.of(exe).getFileName(), exe, runs,
            System.getenv().getOrDefault("KEYLIME_ATTESTOR_JAVA", "java on PATH / JAVA_HOME"));
        System.out.printf("  %-40s %18s %18s %20s %16s%n", "configuration", "handshake median", "handshake min",
            "Init answered median", "RSS median");
        for (int c = 0; c < configs.size(); c++) {
          List<Sample> all = samples.get(e).get(c);
          List<Double> hs = all.stream().map(Sample::handshakeMs).sorted().toList();
          List<Double> init = all.stream().map(Sample::initMs).sorted().toList();
          List<Long> rss = all.stream().map(Sample::rssKb).sorted().toList();
          System.out.printf("  %-40s %15.0f ms %15.0f ms %17.0f ms %13.1f MB%n", configs.get(c).name(), median(hs), hs.get(0),
              median(init), median(rss.stream().map(Long::doubleValue).toList()) / 1024.0);
        }
      }
    } finally {
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
  }

  static void train(String exe) throws Exception {
    Process p = new ProcessBuilder(exe, "--train-cds").redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0 || !Files.exists(Path.of(exe + ".jsa"))) {
      throw new IllegalStateException(exe + " --train-cds did not write " + exe + ".jsa");
    }
  }

  static Sample once(String exe, Map<String, String> env, String hcl, MultiThreadIoEventLoopGroup loop) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(exe).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putAll(env);
    pb.environment().put("NodeAttestor", "NodeAttestor");
    pb.environment().put("PLUGIN_PROTOCOL_VERSIONS", "1");
    long t0 = System.nanoTime();
    Process p = pb.start();
    ManagedChannel ch = null;
    try {
      String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
      double handshakeMs = (System.nanoTime() - t0) / 1e6;
      String socket = line.split("\\|")[3];
      ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket)).channelType(EpollDomainSocketChannel.class)
          .eventLoopGroup(loop).withOption(ChannelOption.SO_KEEPALIVE, null).usePlaintext().build();
      StreamObserver<ConnInfo> broker = GRPCBrokerGrpc.newStub(ch).startStream(Observers.<ConnInfo>ignoring());
      broker.onNext(ConnInfo.newBuilder().setServiceId(1).setNetwork("unix").setAddress("/nonexistent").build());
      InitGrpc.newBlockingStub(ch).init(InitRequest.newBuilder().addHostServiceNames("spire.hostservice.common.metrics.v1.Metrics").build());
      double initMs = (System.nanoTime() - t0) / 1e6;
      ConfigGrpc.newBlockingStub(ch).configure(ConfigureRequest.newBuilder()
          .setCoreConfiguration(CoreConfiguration.newBuilder().setTrustDomain("example.org")).setHclConfiguration(hcl).build());
      long rss = rssKb(p.pid());
      GRPCControllerGrpc.newBlockingStub(ch).shutdown(Empty.getDefaultInstance());
      p.waitFor(5, TimeUnit.SECONDS);
      return new Sample(handshakeMs, initMs, rss);
    } finally {
      if (ch != null) {
        ch.shutdownNow();
      }
      p.destroyForcibly();
    }
  }

  static long rssKb(long pid) throws Exception {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("VmRSS:")) {
        return Long.parseLong(l.replaceAll("\\D", ""));
      }
    }
    throw new IllegalStateException("no VmRSS for " + pid);
  }

  static double median(List<Double> sorted) {
    List<Double> s = new ArrayList<>(sorted);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }
}
