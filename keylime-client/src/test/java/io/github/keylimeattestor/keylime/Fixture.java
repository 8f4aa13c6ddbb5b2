package io.github.keylimeattestor.keylime;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Base64;

/** Certificates and Keylime-shaped records shared by the client tests. */
final class Fixture {
  static final String UUID = "d432fbb3-d2f1-4a97-9ef7-75bd81c00001";

  final TestPki.Issued keylimeCa;
  final TestPki.Issued server; // CN server, SAN localhost + 127.0.0.1, like Keylime's
  final TestPki.Issued namedServer; // only DNS:verifier.keylime.test
  final TestPki.Issued clientCa; // the SPIRE plugin's client CA
  final TestPki.Issued client;
  final TestPki.Issued rogueCa;
  final TestPki.Issued rogueClient;
  final Path dir;
  final Path keylimeCaPem;
  final Path rogueCaPem;
  final Path clientCertPem;
  final Path clientKeyPem;
  final Path rogueCertPem;
  final Path rogueKeyPem;

  Fixture(Path dir) throws Exception {
    this.dir = dir;
    keylimeCa = TestPki.ca("Keylime Certificate Authority");
    server = TestPki.leaf(keylimeCa, "server", TestPki.ec(), "DNS:localhost", "IP:127.0.0.1");
    namedServer = TestPki.leaf(keylimeCa, "verifier", TestPki.ec(), "DNS:verifier.keylime.test");
    clientCa = TestPki.ca("SPIRE plugin client CA");
    client = TestPki.leaf(clientCa, "spire-server-plugin", TestPki.ec());
    rogueCa = TestPki.ca("Rogue CA");
    rogueClient = TestPki.leaf(rogueCa, "rogue-client", TestPki.ec());
    keylimeCaPem = TestPki.write(dir, "cacert.crt", TestPki.pem(keylimeCa.cert()));
    rogueCaPem = TestPki.write(dir, "rogue-ca.crt", TestPki.pem(rogueCa.cert()));
    clientCertPem = TestPki.write(dir, "client.crt", TestPki.pem(client.cert()));
    clientKeyPem = TestPki.write(dir, "client.key", TestPki.pkcs8(client.key()));
    rogueCertPem = TestPki.write(dir, "rogue.crt", TestPki.pem(rogueClient.cert()));
    rogueKeyPem = TestPki.write(dir, "rogue.key", TestPki.pkcs8(rogueClient.key()));
  }

  TlsSettings tls() throws Exception {
    return TlsSettings.builder()
        .caBundle(keylimeCaPem)
        .clientCertificate(clientCertPem, clientKeyPem, null)
        .build();
  }

  /** A Keylime server that requires client certificates from the SPIRE plugin client CA. */
  FakeKeylimeServer keylimeServer() throws Exception {
    return new FakeKeylimeServer(server, clientCa.cert());
  }

  /** TPM2B_PUBLIC of an RSA-2048 AK as Keylime stores it (attributes 0x00050072). */
  static byte[] akTpm2b() {
    ByteBuffer b = ByteBuffer.allocate(2 + 280);
    b.putShort((short) 280).putShort((short) 0x0001).putShort((short) 0x000b).putInt(0x00050072);
    b.putShort((short) 0).putShort((short) 0x0010).putShort((short) 0x0014).putShort((short) 0x000b);
    b.putShort((short) 2048).putInt(0).putShort((short) 256);
    for (int i = 0; i < 256; i++) {
      b.put((byte) (i + 1));
    }
    return b.array();
  }

  /** TPM2B_PUBLIC of an RSA EK (template L-1 shape: AES-128-CFB, policy A). */
  static byte[] ekTpm2b() {
    ByteBuffer b = ByteBuffer.allocate(2 + 314);
    b.putShort((short) 314).putShort((short) 0x0001).putShort((short) 0x000b).putInt(0x000300b2);
    b.putShort((short) 32);
    for (int i = 0; i < 32; i++) {
      b.put((byte) 0x83);
    }
    b.putShort((short) 0x0006).putShort((short) 128).putShort((short) 0x0043);
    b.putShort((short) 0x0010).putShort((short) 2048).putInt(0).putShort((short) 256);
    for (int i = 0; i < 256; i++) {
      b.put((byte) (255 - i));
    }
    return b.array();
  }

  static String b64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  static String registrarRecord(String uuid, X509Certificate ekCert, String mtlsPem) throws Exception {
    return FakeKeylimeServer.envelope(
        "{\"agent_id\":\"" + uuid + "\",\"ek_tpm\":\"" + b64(ekTpm2b()) + "\",\"ekcert\":"
            + (ekCert == null ? "null" : "\"" + b64(ekCert.getEncoded()) + "\"")
            + ",\"aik_tpm\":\"" + b64(akTpm2b()) + "\",\"mtls_cert\":"
            + (mtlsPem == null ? "null" : Json.string(mtlsPem))
            + ",\"ip\":\"127.0.0.1\",\"port\":9002,\"regcount\":1}");
  }

  static String verifierRecord(String state, String status, long count, double lastOk) {
    return FakeKeylimeServer.envelope(
        "{\"operational_state\":" + state + ",\"v\":null,\"ip\":\"127.0.0.1\",\"port\":9002,"
            + "\"tpm_policy\":\"{\\\"mask\\\": \\\"0x0\\\"}\",\"meta_data\":\"{}\","
            + "\"has_mb_refstate\":0,\"has_runtime_policy\":0,"
            + "\"accept_tpm_hash_algs\":[\"sha256\"],\"accept_tpm_encryption_algs\":[\"rsa\"],"
            + "\"accept_tpm_signing_algs\":[\"rsassa\"],\"hash_alg\":\"sha256\",\"enc_alg\":\"rsa\","
            + "\"sign_alg\":\"rsassa\",\"verifier_id\":\"default\",\"verifier_ip\":\"127.0.0.1\","
            + "\"verifier_port\":8881,\"severity_level\":null,\"last_event_id\":null,"
            + "\"attestation_count\":" + count + ",\"last_received_quote\":" + lastOk + ","
            + "\"last_successful_attestation\":" + lastOk + ","
            + (status == null ? "" : "\"attestation_status\":\"" + status + "\",")
            + "\"attestation_period\":\"2s\",\"maximum_attestation_interval\":\"10s\"}");
  }
}
