package io.github.keylimeattestor.keylime;

import java.util.Optional;

/**
 * A Keylime agent's answer to {@code /quotes/identity} (or {@code /quotes/integrity}): the quote
 * string as Keylime encodes it, unparsed, plus the algorithms and NK key the agent names beside it.
 * The quote's TPM structures are {@code tpm}'s {@code structure.KeylimeQuote}, parsed by whoever
 * verifies it.
 *
 * @param quote Keylime's quote string {@code r<TPMS_ATTEST>:<TPMT_SIGNATURE>:<PCR blob>}
 * @param pubkey PEM of the agent's NK public key (hashed into PCR 16), when sent
 */
public record AgentQuoteResponse(
    String quote, String hashAlg, String encAlg, String signAlg, Optional<String> pubkey) {

  static AgentQuoteResponse parse(Fields f) throws KeylimeMalformedResponseException {
    String q = f.string("quote");
    if (!q.startsWith("r") || q.split(":", -1).length != 3) {
      throw f.bad("quote", "is not a Keylime quote string r<attest>:<signature>:<pcrs>", null);
    }
    return new AgentQuoteResponse(
        q, f.string("hash_alg"), f.string("enc_alg"), f.string("sign_alg"), f.optString("pubkey"));
  }
}
