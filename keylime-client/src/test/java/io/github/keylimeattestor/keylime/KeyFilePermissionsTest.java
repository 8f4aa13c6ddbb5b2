package io.github.keylimeattestor.keylime;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ssh's rule for private key files, on real files with real modes and owners. */
class KeyFilePermissionsTest {
  @TempDir Path dir;

  Path key(String mode) throws IOException {
    Path p = dir.resolve("client.key");
    Files.writeString(p, "-----BEGIN PRIVATE KEY-----\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    return p;
  }

  @Test
  void ownerOnlyModesPass() throws Exception {
    assertThatCode(() -> KeyFilePermissions.checkPrivate(key("rw-------"), "tls.client_key")).doesNotThrowAnyException();
    assertThatCode(() -> KeyFilePermissions.checkPrivate(key("r--------"), "tls.client_key")).doesNotThrowAnyException();
  }

  @Test
  void groupOrOtherAccessIsRefusedWithTheChmodThatFixesIt() throws Exception {
    for (String mode : new String[] {"rw-r--r--", "rw-r-----", "rw----r--", "rw--w----", "rw-----w-"}) {
      Path p = key(mode);
      assertThatThrownBy(() -> KeyFilePermissions.checkPrivate(p, "tls.client_key"))
          .as(mode).isInstanceOf(IOException.class)
          .hasMessageContaining("tls.client_key " + p + " has mode " + mode)
          .hasMessageContaining("chmod 600 " + p);
    }
  }

  @Test
  void aKeyOwnedByAnotherUserIsRefusedWithTheChownThatFixesIt() throws Exception {
    assumeThat(KeyFilePermissions.effectiveUid()).as("chown to another user needs root").isZero();
    Path p = key("rw-------");
    UserPrincipal nobody = p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
    Files.setOwner(p, nobody);
    assertThatThrownBy(() -> KeyFilePermissions.checkPrivate(p, "keylime_agent_tls.client_key"))
        .hasMessageContaining("belongs to nobody")
        .hasMessageContaining("chown 0 " + p);
  }

  @Test
  void aFileTheKeylimeAgentWritesMayBeReadableButNotWritableByOthers() throws Exception {
    Path p = key("rw-r--r--");
    assertThatCode(() -> KeyFilePermissions.checkNotWritableByOthers(p, "agent_data_path")).doesNotThrowAnyException();
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-rw-r--"));
    assertThatThrownBy(() -> KeyFilePermissions.checkNotWritableByOthers(p, "agent_data_path"))
        .hasMessageContaining("agent_data_path " + p + " has mode rw-rw-r--").hasMessageContaining("chmod go-w " + p);
  }

  @Test
  void aMissingFileIsLeftToTheReaderToReport() {
    assertThatCode(() -> KeyFilePermissions.checkPrivate(dir.resolve("absent"), "tls.client_key"))
        .doesNotThrowAnyException();
  }

  @Test
  void aCertificateFileIsCheckedAsAKeyOnlyWhenItHoldsOne() throws Exception {
    Path certOnly = dir.resolve("client.crt");
    Files.writeString(certOnly, "-----BEGIN CERTIFICATE-----\n");
    Files.setPosixFilePermissions(certOnly, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatCode(() -> KeyFilePermissions.checkPrivateIfItHoldsAKey(certOnly, "tls.client_cert"))
        .doesNotThrowAnyException();
    Path combined = dir.resolve("all.pem");
    Files.writeString(combined, "-----BEGIN PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n");
    Files.setPosixFilePermissions(combined, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> KeyFilePermissions.checkPrivateIfItHoldsAKey(combined, "tls.client_cert"))
        .isInstanceOf(IOException.class).hasMessageContaining("tls.client_cert " + combined + " has mode rw-r--r--");
    // a key after the first MiB is not missed: a file that large is held to the key rule unread
    Path padded = dir.resolve("padded.pem");
    Files.writeString(padded, "#".repeat(1 << 20) + "\n-----BEGIN PRIVATE KEY-----\n");
    Files.setPosixFilePermissions(padded, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> KeyFilePermissions.checkPrivateIfItHoldsAKey(padded, "tls.client_cert"))
        .isInstanceOf(IOException.class).hasMessageContaining("has mode rw-r--r--");
  }
}
