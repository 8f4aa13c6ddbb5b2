package io.github.keylimeattestor.sdk.log;

/** hclog levels; {@link #wireName()} is the exact string go-hclog's LevelFromString accepts. */
public enum Level {
  TRACE("trace"),
  DEBUG("debug"),
  INFO("info"),
  WARN("warn"),
  ERROR("error");

  private final String wireName;

  Level(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }
}
