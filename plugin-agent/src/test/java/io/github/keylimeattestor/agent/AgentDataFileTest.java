package io.github.keylimeattestor.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.github.keylimeattestor.tpm.Alg;
import io.github.keylimeattestor.tpm.KeylimeAgentTpm;
import io.github.keylimeattestor.tpm.KeylimeTpm;
import io.github.keylimeattestor.tpm.structure.AgentData;
import io.github.keylimeattestor.tpm.structure.Templates;
import io.github.keylimeattestor.tpm.testing.AgentDataWriter;
import io.github.keylimeattestor.tpm.testing.Swtpm;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * agent_data.json as a reader finds it while rust-keylime rewrites it (truncate, then write in
 * pieces): every prefix of a real file (AK made by swtpm) must give Unavailable, never a crash.
 */
class AgentDataFileTest {
  static byte[] real;

  @TempDir Path dir;

  @BeforeAll
  static void makeARealFile() throws Exception {
    try (Swtpm swtpm = Swtpm.start(); var tpm = swtpm.tpm()) {
      KeylimeTpm k = new KeylimeTpm(tpm);
      Path f = Files.createTempFile("agent_data", ".json");
      AgentDataWriter.write(new KeylimeAgentTpm(k).createAk(Templates.akRsa(Alg.SHA256)), k.ekPublic().toPublicKey(), f);
      real = Files.readAllBytes(f);
      Files.delete(f);
    }
  }

  static final AgentDataFile.Pause NO_WAIT = attempt -> { };

  @Test
  void everyPrefixOfARealFileIsUnavailableWithAHint() throws Exception {
    Path f = dir.resolve("agent_data.json");
    String whole = new String(real, java.nio.charset.StandardCharsets.UTF_8).strip();
    for (int n = 0; n < real.length; n++) {
      byte[] prefix = Arrays.copyOf(real, n);
      Files.write(f, prefix);
      if (new String(prefix, java.nio.charset.StandardCharsets.UTF_8).strip().equals(whole)) {
        assertThat(new AgentDataFile(f, 3, NO_WAIT).read().akPublic().isEmpty()).as("only whitespace cut").isFalse();
        continue;
      }
      AttestationFailure e = catchThrowableOfType(AttestationFailure.class, () -> new AgentDataFile(f, 3, NO_WAIT).read());
      assertThat(e).as("prefix of %d bytes", n).isNotNull();
      assertThat(e.code()).as("prefix of %d bytes: %s", n, e.getMessage()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(e.getMessage()).contains(f.toString()).contains(n == 0 ? "empty" : "cut short")
          .contains("rewrites it at every start");
    }
  }

  @Test
  void aFileCompletedWhileWaitingIsRead() throws Exception {
    Path f = dir.resolve("agent_data.json");
    Files.write(f, Arrays.copyOf(real, real.length / 2));
    AtomicInteger pauses = new AtomicInteger();
    AgentData d = new AgentDataFile(f, 6, attempt -> {
      pauses.incrementAndGet();
      try {
        Files.write(f, real); // the Keylime agent finishes its write
      } catch (java.io.IOException x) {
        throw new java.io.UncheckedIOException(x);
      }
    }).read();
    assertThat(pauses).hasValue(1);
    assertThat(d.akPublic()).isEqualTo(AgentData.parse(new String(real, java.nio.charset.StandardCharsets.UTF_8),
        AgentData.DEFAULT_LIMIT).akPublic());
  }

  @Test
  void anEmptyFileIsReadAgainBeforeGivingUp() throws Exception {
    Path f = dir.resolve("agent_data.json");
    Files.write(f, new byte[0]);
    AtomicInteger pauses = new AtomicInteger();
    AttestationFailure e = catchThrowableOfType(
        AttestationFailure.class, () -> new AgentDataFile(f, 4, attempt -> pauses.incrementAndGet()).read());
    assertThat(pauses).hasValue(3);
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getMessage()).contains("is empty in 4 reads").contains("restart the Keylime agent");
  }

  @Test
  void aCompleteFileThatIsNoAgentDataIsAFailedPrecondition() throws Exception {
    Path f = dir.resolve("agent_data.json");
    Files.writeString(f, "{\"ak_hash_alg\": \"Sha256\"}\n");
    AttestationFailure e = catchThrowableOfType(AttestationFailure.class, () -> new AgentDataFile(f, 2, NO_WAIT).read());
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains("is not a rust-keylime agent_data.json").contains("agent_data_path");
  }

  /** agent_data_path pointing at agent.conf (TOML): not a write under way, so not waited for. */
  @Test
  void anotherKindOfFileIsAFailedPreconditionAtOnce() throws Exception {
    Path f = dir.resolve("agent.conf");
    Files.writeString(f, "[agent]\nuuid = \"hash_ek\"\nip = \"127.0.0.1\"\n");
    AtomicInteger pauses = new AtomicInteger();
    AttestationFailure e = catchThrowableOfType(
        AttestationFailure.class, () -> new AgentDataFile(f, 4, attempt -> pauses.incrementAndGet()).read());
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains("is not a rust-keylime agent_data.json").contains("check agent_data_path");
  }

  /** A FIFO (or a directory) there: refused at once, where opening a FIFO would block the attestation for good. */
  @Test
  void aFifoIsAFailedPreconditionWithoutWaitingForAWriter() throws Exception {
    Path fifo = dir.resolve("agent_data.json");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    AttestationFailure e = java.util.concurrent.CompletableFuture.supplyAsync(() ->
        catchThrowableOfType(AttestationFailure.class, () -> new AgentDataFile(fifo, 2, NO_WAIT).read()))
        .get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains(fifo + " is not a regular file");
  }

  @Test
  void aLargeFileIsRefusedAfterReadingOneByteMoreThanTheLimit() throws Exception {
    // a 100 MB sparse file: read whole, as before, it would not fit the launcher's 64 MB heap
    Path f = dir.resolve("big.log");
    try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {'{'}), 100L << 20);
    }
    AttestationFailure e = catchThrowableOfType(AttestationFailure.class, () -> new AgentDataFile(f, 2, NO_WAIT).read());
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains("is more than the limit of " + AgentData.DEFAULT_LIMIT)
        .contains("is not a rust-keylime agent_data.json");
  }
}
