package io.github.keylimeattestor.it.testattestor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.keylimeattestor.sdk.Plugin;
import io.github.keylimeattestor.sdk.hcl.HclConfig;
import io.github.keylimeattestor.sdk.hcl.HclException;
import io.github.keylimeattestor.sdk.log.Log;
import io.grpc.Status;
import io.grpc.StatusException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The test attestor's plugin_data; logs exactly what arrived so the tests can compare it. */
record TestConfig(String trustDomain, String nodeName, byte[] secret, long challengeSize,
    List<String> allowedNodes, Map<String, String> labels) {

  static final ObjectMapper JSON = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  /** Config RPC Validate: a note only when the configuration is refused. */
  static Plugin.Validation validate(String trustDomain, String hcl, Log log) {
    try {
      parse(trustDomain, hcl, log);
      return Plugin.Validation.ok(List.of());
    } catch (StatusException e) {
      return Plugin.Validation.invalid(e.getStatus().getDescription());
    }
  }

  static TestConfig parse(String trustDomain, String hcl, Log log) throws StatusException {
    try {
      HclConfig c = HclConfig.parse(hcl);
      log.info("test attestor configuration received", "hcl", hcl, "parsed", JSON.writeValueAsString(c.asMap()));
      String node = c.optString("node_name", "");
      byte[] secret = c.string("shared_secret").getBytes(StandardCharsets.UTF_8);
      long size = c.optLong("challenge_size", 32);
      List<String> allowed = c.stringList("allowed_nodes");
      c.optBool("log_challenges", false);
      Map<String, String> labels = new TreeMap<>();
      HclConfig labelBlock = c.block("labels");
      for (String k : labelBlock.keys()) {
        labels.put(k, labelBlock.string(k));
      }
      c.block("timeouts");
      c.rejectUnknownKeys();
      if (size < 16 || size > 1024) {
        c.problem("challenge_size must be between 16 and 1024");
      }
      c.throwIfProblems();
      log.warn("test attestor in use: shared-secret attestation is for tests only");
      return new TestConfig(trustDomain, node, secret, size, allowed, labels);
    } catch (HclException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
    } catch (JsonProcessingException e) {
      throw Status.INTERNAL.withDescription(e.toString()).asException();
    }
  }
}
