package io.github.keylimeattestor.server.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.keylimeattestor.proto.spire.api.types.Agent;
import io.github.keylimeattestor.proto.spire.api.types.SPIFFEID;
import io.github.keylimeattestor.proto.spire.api.types.Selector;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The EK binding's decisions over SPIRE's agent records. The records here are a test double of
 * spire-server's Agent API, to reach the cases a single swtpm cannot make (an agent ID stored with
 * another TPM's EK); TrustControlsIT runs the binding against a real spire-server.
 */
class EkBindingTest {
  static final String EK_A = "aa".repeat(32);
  static final String EK_B = "bb".repeat(32);
  static final String ID_1 = "spiffe://example.org/spire/agent/keylime/uuid-1";
  static final String ID_2 = "spiffe://example.org/spire/agent/keylime/uuid-2";

  static class Records implements EkBinding.AgentApi {
    final List<Agent> agents = new ArrayList<>();
    StatusRuntimeException failure;

    void add(String id, String ekHash, boolean banned) {
      agents.add(Agent.newBuilder().setId(EkBinding.spiffeId(id)).setBanned(banned)
          .addSelectors(Selector.newBuilder().setType("keylime").setValue("uuid:x"))
          .addSelectors(Selector.newBuilder().setType("keylime").setValue("ek_hash:" + ekHash)).build());
    }

    @Override
    public Optional<Agent> get(SPIFFEID id) {
      if (failure != null) {
        throw failure;
      }
      return agents.stream().filter(a -> a.getId().equals(id)).findFirst();
    }

    @Override
    public List<Agent> withSelector(Selector s) {
      return agents.stream().filter(a -> a.getSelectorsList().contains(s)).toList();
    }

    @Override
    public void close() {}
  }

  final Records records = new Records();
  final EkBinding binding = new EkBinding(records, Path.of("/run/spire/api.sock"));

  @Test
  void aNewIdOnANewTpmAndTheSameIdOnItsOwnTpmPass() {
    assertThatCode(() -> binding.check(ID_1, EK_A)).doesNotThrowAnyException();
    records.add(ID_1, EK_A, false);
    assertThatCode(() -> binding.check(ID_1, EK_A)).doesNotThrowAnyException();
  }

  @Test
  void anIdAttestedWithOneEkIsNotIssuedToAnother() {
    records.add(ID_1, EK_A, false);
    assertThatThrownBy(() -> binding.check(ID_1, EK_B)).isInstanceOfSatisfying(StatusException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(e.getStatus().getDescription()).contains("was attested with EK hash " + EK_A)
          .contains("this node's EK hash is " + EK_B).contains("spire-server agent evict -spiffeID " + ID_1);
    });
  }

  /** SPIRE types a NodeAttestor's selectors by its plugin block's name, which an operator may change. */
  @Test
  void aNodeAttestorBlockNamedOtherwiseIsNamedAsTheCause() {
    records.agents.add(Agent.newBuilder().setId(EkBinding.spiffeId(ID_1))
        .addSelectors(Selector.newBuilder().setType("keylime_tpm").setValue("ek_hash:" + EK_A)).build());
    assertThatThrownBy(() -> binding.check(ID_1, EK_A)).isInstanceOfSatisfying(StatusException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e.getStatus().getDescription()).contains("selector type 'keylime_tpm', not 'keylime'")
          .contains("NodeAttestor \"keylime\"");
    });
  }

  @Test
  void oneTpmGetsOneIdEvenWhenItsOtherIdIsBanned() {
    records.add(ID_1, EK_A, true);
    assertThatThrownBy(() -> binding.check(ID_2, EK_A)).isInstanceOfSatisfying(StatusException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(e.getStatus().getDescription()).contains("already holds agent ID " + ID_1 + " (banned)")
          .contains("spire-server agent evict -spiffeID " + ID_1);
    });
  }

  @Test
  void anUnreachableSpireServerIsUnavailable() {
    records.failure = Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException();
    assertThatThrownBy(() -> binding.check(ID_1, EK_A)).isInstanceOfSatisfying(StatusException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(e.getStatus().getDescription()).contains("/run/spire/api.sock").contains("socket_path");
    });
  }

  @Test
  void twoNewIdsOfOneTpmCheckedAtOnceDoNotBothPass() throws Exception {
    long[] now = {0};
    java.util.concurrent.CyclicBarrier bothRead = new java.util.concurrent.CyclicBarrier(2);
    Records racing = new Records() {
      @Override
      public List<Agent> withSelector(Selector s) {
        List<Agent> found = super.withSelector(s);
        try {
          bothRead.await(10, java.util.concurrent.TimeUnit.SECONDS); // both have read SPIRE's records: nothing
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return found;
      }
    };
    EkBinding b = new EkBinding(racing, Path.of("/run/spire/api.sock"), () -> now[0]);
    var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      var one = pool.submit(() -> outcome(b, ID_1, EK_A));
      var two = pool.submit(() -> outcome(b, ID_2, EK_A));
      List<String> outcomes = List.of(one.get(20, java.util.concurrent.TimeUnit.SECONDS),
          two.get(20, java.util.concurrent.TimeUnit.SECONDS));
      assertThat(outcomes).containsOnlyOnce("ok").anyMatch(o -> o.startsWith("UNAVAILABLE")
          && o.contains("was just issued agent ID") && o.contains("two Keylime UUIDs on one TPM"));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void oneNewIdFromTwoTpmsAtOnceIsIssuedToOne() throws Exception {
    assertThatCode(() -> binding.check(ID_1, EK_A)).doesNotThrowAnyException();
    assertThatThrownBy(() -> binding.check(ID_1, EK_B)).isInstanceOfSatisfying(StatusException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(e.getStatus().getDescription()).contains("was just issued to another TPM (EK hash " + EK_A + ")");
    });
    assertThatCode(() -> binding.check(ID_1, EK_A)).as("the same pair again").doesNotThrowAnyException();
  }

  @Test
  void whatSpireHasStoredIsAnsweredByItsRecordsAndTheHoldEnds() throws Exception {
    long[] now = {0};
    EkBinding b = new EkBinding(records, Path.of("/run/spire/api.sock"), () -> now[0]);
    b.check(ID_1, EK_A);
    records.add(ID_1, EK_A, false); // SPIRE stored it
    assertThatThrownBy(() -> b.check(ID_2, EK_A)).isInstanceOfSatisfying(StatusException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    // the operator evicted it: SPIRE's records were seen holding it, so its hold has ended and the new ID
    // passes at once (a spire-agent at boot retries Unavailable only a few times)
    records.agents.clear();
    assertThatCode(() -> b.check(ID_2, EK_A)).doesNotThrowAnyException();
  }

  @Test
  void aHoldThatSpireNeverConfirmsEndsWithItsTime() throws Exception {
    long[] now = {0};
    EkBinding b = new EkBinding(records, Path.of("/run/spire/api.sock"), () -> now[0]);
    b.check(ID_1, EK_A); // issued, not (yet) stored by SPIRE
    assertThatThrownBy(() -> b.check(ID_2, EK_A)).isInstanceOfSatisfying(StatusException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    now[0] += EkBinding.HOLD.toNanos() + 1;
    assertThatCode(() -> b.check(ID_2, EK_A)).doesNotThrowAnyException();
  }

  static String outcome(EkBinding b, String id, String ek) {
    try {
      b.check(id, ek);
      return "ok";
    } catch (StatusException e) {
      return e.getStatus().getCode() + " " + e.getStatus().getDescription();
    }
  }
}
