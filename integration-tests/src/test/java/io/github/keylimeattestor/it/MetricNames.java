package io.github.keylimeattestor.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Our metric families in a Prometheus text endpoint, and the ones alert rules and dashboards use. */
final class MetricNames {
  static final Pattern SAMPLE = Pattern.compile("^(spire_(?:server|agent)_keylime_attestor_[a-z_]+?)(?:_sum|_count)?(?:\\{([^}]*)\\})? ");
  // a summary's _sum and _count series belong to its family, as in SAMPLE
  static final Pattern USE = Pattern.compile(
      "((?:spire_(?:server|agent)_)?keylime_attestor_[a-z_]+?)(?:_sum|_count)?(?![a-z_])(?:\\{([^}]*)\\})?");
  static final Pattern LABEL = Pattern.compile("(\\w+)\\s*(?:=~|!~|!=|=)");

  private MetricNames() {}

  /** family -> label names seen, from http://127.0.0.1:port/metrics. */
  static Map<String, Set<String>> scrape(int port) throws IOException, InterruptedException {
    String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    Map<String, Set<String>> out = new LinkedHashMap<>();
    for (String line : body.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (m.find()) {
        Set<String> labels = out.computeIfAbsent(m.group(1), k -> new LinkedHashSet<>());
        if (m.group(2) != null) {
          Matcher l = LABEL.matcher(m.group(2));
          while (l.find()) {
            labels.add(l.group(1));
          }
        }
      }
    }
    return out;
  }

  /** metric -> label names an expression uses with it. */
  static Map<String, Set<String>> uses(String expr) {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    Matcher m = USE.matcher(expr);
    while (m.find()) {
      Set<String> labels = out.computeIfAbsent(m.group(1), k -> new LinkedHashSet<>());
      if (m.group(2) != null) {
        Matcher l = LABEL.matcher(m.group(2));
        while (l.find()) {
          labels.add(l.group(1));
        }
      }
    }
    // by (...) clauses name labels too
    Matcher by = Pattern.compile("by \\(([^)]*)\\)").matcher(expr);
    while (by.find()) {
      for (String label : by.group(1).split(",")) {
        out.values().forEach(s -> s.add(label.trim()));
      }
    }
    return out;
  }

  static List<String> ruleExpressions(Path yaml) throws IOException {
    JsonNode doc = new ObjectMapper(new YAMLFactory()).readTree(yaml.toFile());
    List<String> out = new ArrayList<>();
    for (JsonNode group : doc.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        if (rule.path("alert").asText().isEmpty() || rule.path("expr").asText().isEmpty()) {
          throw new IOException("rule without alert or expr in " + yaml + ": " + rule);
        }
        out.add(rule.path("expr").asText());
      }
    }
    return out;
  }

  static List<String> dashboardExpressions(Path json) throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode panel : new ObjectMapper().readTree(json.toFile()).path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        out.add(target.path("expr").asText());
      }
    }
    return out;
  }
}
