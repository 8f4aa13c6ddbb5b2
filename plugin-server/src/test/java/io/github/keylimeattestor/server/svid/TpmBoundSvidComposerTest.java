package io.github.keylimeattestor.server.svid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.github.keylimeattestor.proto.spire.config.CoreConfiguration;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.ComposeAgentX509SVIDRequest;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.ComposeWorkloadX509SVIDRequest;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.CredentialComposerGrpc;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.DistinguishedName;
import io.github.keylimeattestor.proto.spire.server.credentialcomposer.X509SVIDAttributes;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The composer over gRPC, as spire-server calls it, reading records the NodeAttestor side wrote. */
class TpmBoundSvidComposerTest {
  static final String AGENT = "spiffe://example.org/spire/agent/keylime/0e2f6a4c-7c1b-4f1e-9d52-3b5f3a8e1c01";
  static final Instant NOW = Instant.parse("2026-12-01T08:00:00Z");

  @TempDir Path tmp;
  Path dir;
  Server server;
  ManagedChannel channel;
  CredentialComposerGrpc.CredentialComposerBlockingStub composer;
  Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);

  @BeforeEach
  void setUp() throws Exception {
    dir = tmp.resolve("bindings");
    TpmBoundSvidComposer plugin = new TpmBoundSvidComposer(new Clock() {
      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return clock.instant();
      }
    });
    plugin.configure(CoreConfiguration.getDefaultInstance(), "svid_binding_directory = \"" + dir + "\"");
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(plugin.pluginService()).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
    composer = CredentialComposerGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void tearDown() throws Exception {
    channel.shutdownNow();
    server.shutdownNow().awaitTermination();
  }

  static byte[] spki() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair().getPublic().getEncoded();
  }

  static final X509SVIDAttributes ATTRS = X509SVIDAttributes.newBuilder()
      .setSubject(DistinguishedName.newBuilder().addOrganization("SPIRE")).addDnsSans("node.example").build();

  ComposeAgentX509SVIDRequest request(String id, byte[] key) {
    return ComposeAgentX509SVIDRequest.newBuilder().setSpiffeId(id).setPublicKey(ByteString.copyFrom(key))
        .setAttributes(ATTRS).build();
  }

  void record(String id, byte[] key) throws Exception {
    new SvidBindings(dir).record(id, key, "agent-svid-A", NOW.plusSeconds(60), NOW);
  }

  static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  @Test
  void aCertifiedKeyGetsItsAttributesBackUnchanged() throws Exception {
    byte[] key = spki();
    record(AGENT, key);
    assertThat(composer.composeAgentX509SVID(request(AGENT, key)).getAttributes()).isEqualTo(ATTRS);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
    try (var files = Files.list(dir)) {
      files.forEach(f -> {
        try {
          assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
        } catch (java.io.IOException e) {
          throw new AssertionError(e);
        }
      });
    }
  }

  @Test
  void anUncertifiedKeyIsRefusedWithAMessageNamingTheKeyManager() throws Exception {
    record(AGENT, spki());
    assertThatThrownBy(() -> composer.composeAgentX509SVID(request(AGENT, spki())))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED))
        .hasMessageContaining("KeyManager \"keylime_tpm\"");
  }

  @Test
  void aKeyCertifiedForAnotherAgentIsRefused() throws Exception {
    byte[] key = spki();
    record(AGENT + "-other", key);
    assertThatThrownBy(() -> composer.composeAgentX509SVID(request(AGENT, key)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED));
  }

  @Test
  void anExpiredRecordIsRefused() throws Exception {
    byte[] key = spki();
    record(AGENT, key);
    clock = Clock.fixed(NOW.plus(Duration.ofSeconds(61)), ZoneOffset.UTC);
    assertThatThrownBy(() -> composer.composeAgentX509SVID(request(AGENT, key)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED));
  }

  @Test
  void aTamperedRecordIsRefused() throws Exception {
    byte[] key = spki();
    byte[] other = spki();
    record(AGENT, other);
    // a record file renamed to the name of another (agent, key) pair does not vouch for that pair
    Files.move(dir.resolve(SvidBindings.name(AGENT, other)), dir.resolve(SvidBindings.name(AGENT, key)));
    assertThatThrownBy(() -> composer.composeAgentX509SVID(request(AGENT, key)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED));
  }

  @Test
  void recordsInADirectoryOthersCanWriteAreNotTrusted() throws Exception {
    byte[] key = spki();
    record(AGENT, key);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertThatThrownBy(() -> composer.composeAgentX509SVID(request(AGENT, key)))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("the records are not trusted").hasMessageContaining("chmod 0700");
  }

  @Test
  void workloadSvidsAreLeftToSpireUntouched() throws Exception {
    // UNIMPLEMENTED is SPIRE's "attributes unchanged" (pkg/server/plugin/credentialcomposer/v1.go)
    assertThatThrownBy(() -> composer.composeWorkloadX509SVID(ComposeWorkloadX509SVIDRequest.newBuilder()
        .setSpiffeId("spiffe://example.org/workload").setPublicKey(ByteString.copyFrom(spki())).build()))
        .satisfies(e -> assertThat(code(e)).isEqualTo(Status.Code.UNIMPLEMENTED));
  }

  @Test
  void concurrentAttestationsRecordAndReadConsistently() throws Exception {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      keys.add(spki());
    }
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        byte[] k = keys.get(i);
        String id = AGENT + "-" + (i % 5);
        done.add(pool.submit(() -> {
          for (int round = 0; round < 5; round++) {
            record(id, k);
            assertThat(composer.composeAgentX509SVID(request(id, k)).getAttributes()).isEqualTo(ATTRS);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    try (var files = Files.list(dir)) {
      assertThat(files.filter(f -> f.getFileName().toString().endsWith(".tmp")).count()).isZero();
    }
  }

  @Test
  void aDirectoryOthersCanReadIsRefusedAtConfigure() throws Exception {
    Path open = Files.createDirectory(tmp.resolve("open"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
    TpmBoundSvidComposer plugin = new TpmBoundSvidComposer();
    assertThatThrownBy(() -> plugin.configure(CoreConfiguration.getDefaultInstance(),
        "svid_binding_directory = \"" + open + "\"")).hasMessageContaining("chmod 0700");
    assertThat(plugin.validate(CoreConfiguration.getDefaultInstance(), "").notes())
        .anyMatch(n -> n.contains("svid_binding_directory is required"));
  }
}
