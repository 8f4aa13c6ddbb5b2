package io.github.keylimeattestor.sdk;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * What this executable is: name, version, commit and build time, from the
 * {@code META-INF/keylime-attestor/build.properties} that the build writes into each plugin
 * executable (root pom.xml, execution {@code build-info}). Printed by {@code --version}, logged at
 * Configure.
 */
public record BuildInfo(String name, String version, String commit, String built) {
  static final String RESOURCE = "/META-INF/keylime-attestor/build.properties";

  public static BuildInfo current() {
    Properties p = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // an unreadable resource reads as "unknown" below
    }
    return new BuildInfo(p.getProperty("name", "keylime-attestor"), p.getProperty("version", "unknown"),
        p.getProperty("commit", "unknown"), p.getProperty("built", "unknown"));
  }

  /** {@code keylime-attestor-agent 0.1.0 (commit 3313091b7244, built 2026-12-01T00:00:00Z; Java 17.0.15 linux/amd64)}. */
  public String line() {
    return name + " " + version + " (commit " + commit + ", built " + built + "; Java "
        + System.getProperty("java.version") + " " + System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT)
        + "/" + System.getProperty("os.arch") + ")";
  }
}
