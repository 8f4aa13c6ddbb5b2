package io.github.keylimeattestor.agent;

import io.github.keylimeattestor.sdk.BoundedFiles;
import io.github.keylimeattestor.tpm.TpmFormatException;
import io.github.keylimeattestor.tpm.structure.AgentData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads the Keylime agent's {@code agent_data.json}. rust-keylime rewrites that file at every
 * start by truncating it and writing the JSON in many small pieces (no temporary file and
 * rename), so a reader can find it empty or cut short. Such a file is read again a few times a
 * short pause apart; if it stays incomplete the attestation is Unavailable (SPIRE retries), never
 * a crash. A complete file that is not an agent_data.json is the operator's to fix
 * (FailedPrecondition).
 */
final class AgentDataFile {
  static final int TRIES = 6;
  static final long PAUSE_MILLIS = 100;

  /** How the reader waits between tries; tests pass one that does not sleep. */
  interface Pause {
    void pause(int attempt) throws InterruptedException;
  }

  private static final Pause SLEEP = attempt -> Thread.sleep(PAUSE_MILLIS);

  private final Path path;
  private final int tries;
  private final Pause pause;

  AgentDataFile(Path path) {
    this(path, TRIES, SLEEP);
  }

  AgentDataFile(Path path, int tries, Pause pause) {
    this.path = path;
    this.tries = tries;
    this.pause = pause;
  }

  AgentData read() throws AttestationFailure {
    String text = "";
    TpmFormatException last = null;
    for (int attempt = 1; attempt <= tries; attempt++) {
      byte[] bytes;
      try {
        bytes = BoundedFiles.readAtMost(path, AgentData.DEFAULT_LIMIT);
      } catch (BoundedFiles.NotARegularFileException e) {
        throw AttestationFailure.precondition(e.getMessage() + ": agent_data_path must name the Keylime agent's"
            + " agent_data.json", null);
      } catch (NoSuchFileException e) {
        throw AttestationFailure.unavailable(path + " does not exist: is the Keylime agent "
            + "installed and started (it writes agent_data.json when it creates its AK)? Check agent_data_path", e);
      } catch (IOException e) {
        throw AttestationFailure.unavailable("cannot read " + path + ": " + e.getMessage()
            + " (spire-agent needs read access to the Keylime agent's agent_data.json)", e);
      }
      if (bytes.length > AgentData.DEFAULT_LIMIT) {
        throw AttestationFailure.precondition(path + " is more than the limit of "
            + AgentData.DEFAULT_LIMIT + ": it is not a rust-keylime agent_data.json", null);
      }
      text = new String(bytes, StandardCharsets.UTF_8);
      try {
        return AgentData.parse(text, AgentData.DEFAULT_LIMIT);
      } catch (TpmFormatException e) {
        last = e;
      }
      if (attempt < tries) {
        try {
          pause.pause(attempt);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw AttestationFailure.unavailable("interrupted while waiting for " + path + " to be complete", e);
        }
      }
    }
    if (looksIncomplete(text)) {
      throw AttestationFailure.unavailable(path + " is " + (text.isBlank() ? "empty" : "cut short ("
          + text.length() + " bytes)") + " in " + tries + " reads: the Keylime agent rewrites it at every start "
          + "without an atomic rename, so it is probably starting now; if this persists, the agent died while "
          + "writing it (restart the Keylime agent)", last);
    }
    throw AttestationFailure.precondition(path + " is not a rust-keylime agent_data.json: " + last.getMessage()
        + " (check agent_data_path)", last);
  }

  /**
   * Empty, or a JSON object whose closing brace has not been written yet: a write still under way.
   * Anything else (another file at agent_data_path, agent.conf say) is not waited for.
   */
  static boolean looksIncomplete(String text) {
    String t = text.strip();
    return t.isEmpty() || (t.startsWith("{") && !t.endsWith("}"));
  }
}
