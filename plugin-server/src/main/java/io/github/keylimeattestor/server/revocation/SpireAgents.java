package io.github.keylimeattestor.server.revocation;

/** What the watch does to SPIRE: evict or ban one agent. */
interface SpireAgents extends AutoCloseable {
  /** The agent is evicted or banned now. */
  enum Result {
    DONE,
    /** SPIRE did not know it (another server acted first, or an operator did): also success. */
    ALREADY_GONE
  }

  Result act(RevocationConfig.Action action, String spiffeId) throws SpireActionException;

  /**
   * Every agent SPIRE holds that attested with this plugin and is not banned, with the Keylime UUID
   * from its {@code keylime:uuid:} selector (verifier unknown).
   */
  java.util.List<AttestedNode> keylimeAgents() throws SpireActionException;

  /** SPIRE's agent with this ID; empty if SPIRE holds none. */
  java.util.Optional<StoredAgent> agent(String spiffeId) throws SpireActionException;

  /**
   * An agent as SPIRE stores it: the NodeAttestor block's name it attested with, and the Keylime UUID
   * of its {@code <that name>:uuid:} selector (empty without one).
   */
  record StoredAgent(String attestationType, java.util.Optional<String> keylimeUuid) {}

  @Override
  void close();

  /** SPIRE refused the call or could not be reached; the watch tries again next cycle. */
  final class SpireActionException extends Exception {
    private static final long serialVersionUID = 1L;

    SpireActionException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
