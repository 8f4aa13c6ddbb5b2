package io.github.keylimeattestor.server.revocation;

import java.util.Optional;

/**
 * A node this plugin attested: the SPIRE agent ID it gave, the Keylime agent UUID behind it, and the
 * verifier instance ({@code verifier_id}) that held the node when it was attested.
 */
public record AttestedNode(String spiffeId, String uuid, Optional<String> verifierId) {}
