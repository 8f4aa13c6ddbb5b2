package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The threads the server plugin's two clients start: one selector each, workers from one small shared pool,
 * and none per request.
 */
class HttpTransportThreadsTest {
  @TempDir Path tmp;
  Fixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new Fixture(tmp);
  }

  @Test
  void registrarAndVerifierShareOneSmallWorkerPool() throws Exception {
    Set<Thread> before = Thread.getAllStackTraces().keySet();
    try (FakeKeylimeServer s = fx.keylimeServer()) {
      s.keylimeVersion("2.6", "2.6");
      s.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.registrarRecord(Fixture.UUID, null, "disabled"));
      RegistrarClient registrar = new RegistrarClient(ClientSettings.of(s.uri(), fx.tls()));
      try (FakeKeylimeServer v = fx.keylimeServer()) {
        v.keylimeVersion("2.6", "2.6");
        v.route("/v2.6/agents/" + Fixture.UUID, 200, Fixture.verifierRecord("3", "PASS", 42, 1767225600.5));
        VerifierClient verifier = new VerifierClient(ClientSettings.of(v.uri(), fx.tls()));

        ExecutorService callers = Executors.newFixedThreadPool(8);
        long startedBefore = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount();
        try {
          List<Future<?>> calls = new ArrayList<>();
          for (int i = 0; i < 32; i++) {
            calls.add(callers.submit(() -> registrar.getAgent(Fixture.UUID)));
            calls.add(callers.submit(() -> verifier.getAgent(Fixture.UUID)));
          }
          for (Future<?> f : calls) {
            f.get();
          }
          // no thread per answer: JDK 17's sendAsync hands each answer over through a new thread when the
          // common pool has one thread (2 cores); 64 calls start at most the 8 callers, the workers and selectors
          long startedDuring = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount() - startedBefore;
          assertThat(startedDuring).isLessThan(32);
        } finally {
          callers.shutdownNow();
        }
      }
    }

    List<String> started = Thread.getAllStackTraces().keySet().stream()
        .filter(t -> (!before.contains(t) && t.getName().startsWith("HttpClient-"))
            || t.getName().startsWith(HttpTransport.WORKER_PREFIX))
        .map(Thread::getName).sorted().collect(Collectors.toList());
    assertThat(started).noneMatch(n -> n.matches("HttpClient-\\d+-Worker-\\d+"));
    assertThat(started.stream().filter(n -> n.startsWith(HttpTransport.WORKER_PREFIX)))
        .hasSizeLessThanOrEqualTo(HttpTransport.WORKER_THREADS);
    assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().startsWith(HttpTransport.WORKER_PREFIX))
        .allMatch(Thread::isDaemon);
  }
}
