package io.github.keylimeattestor.keylime;

/**
 * The configuration keys an operator sets for a {@link TlsSettings}, so that error messages name
 * the setting to change (e.g. {@code registrar_tls.server_name}, {@code keylime_agent_tls.ca_bundle}).
 * Each is free text used as "set/add ... to X".
 */
public record TlsKeys(String caBundle, String clientCert, String clientKey, String serverName, String serverNameFix) {

  /**
   * @param serverName where the server name is (or would be) configured
   * @param serverNameFix the key to set to fix a name mismatch for this endpoint (a per-endpoint key
   *     when the name comes from a block shared by several endpoints)
   */
  public TlsKeys {}

  /** The four keys of one block: {@code block.ca_bundle}, {@code block.client_cert}, ... */
  public static TlsKeys under(String block) {
    return new TlsKeys(block + ".ca_bundle", block + ".client_cert", block + ".client_key", block + ".server_name",
        block + ".server_name");
  }
}
