package io.github.keylimeattestor.sdk.hcl;

import java.util.List;

/**
 * The plugin configuration is not valid HCL, or has problems: a value of the wrong type, a missing
 * or unknown key, a file that is not there. Carries every problem found, each a note on its own.
 */
public final class HclException extends Exception {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  public HclException(String message) {
    this(List.of(message));
  }

  /** At most this many problems are kept (and so logged and returned to SPIRE); the rest are counted. */
  static final int MAX_PROBLEMS = 20;

  public HclException(List<String> problems) {
    super(summary(problems));
    this.problems = problems.size() <= MAX_PROBLEMS ? List.copyOf(problems)
        : java.util.stream.Stream.concat(problems.stream().limit(MAX_PROBLEMS),
            java.util.stream.Stream.of("and " + (problems.size() - MAX_PROBLEMS) + " more problems")).toList();
  }

  /** Each problem as a note for {@code spire-server validate}. */
  public List<String> problems() {
    return problems;
  }

  private static String summary(List<String> problems) {
    if (problems.size() == 1) {
      return problems.get(0);
    }
    return "plugin_data has " + problems.size() + " problems: " + String.join("; ", problems.subList(0,
        Math.min(problems.size(), MAX_PROBLEMS))) + (problems.size() > MAX_PROBLEMS ? "; and "
        + (problems.size() - MAX_PROBLEMS) + " more" : "");
  }
}
