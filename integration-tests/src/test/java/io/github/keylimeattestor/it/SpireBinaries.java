package io.github.keylimeattestor.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Where the real spire-server and spire-agent are (installed by integration-tests/install-spire.sh). */
final class SpireBinaries {
  private SpireBinaries() {}

  static Path server() {
    return find("spire-server");
  }

  static Path agent() {
    return find("spire-agent");
  }

  private static Path find(String name) {
    String dir = System.getenv("SPIRE_BIN_DIR");
    if (dir == null || dir.isEmpty()) {
      String gopath = System.getenv().getOrDefault("GOPATH", System.getProperty("user.home") + "/go");
      dir = gopath.split(":")[0] + "/bin";
    }
    Path p = Paths.get(dir, name);
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException(name + " not found in " + dir
          + ": run integration-tests/install-spire.sh (or set SPIRE_BIN_DIR)");
    }
    return p;
  }

  static Path projectFile(String relative) {
    return Paths.get(System.getProperty("project.root", "..")).resolve(relative).toAbsolutePath().normalize();
  }
}
