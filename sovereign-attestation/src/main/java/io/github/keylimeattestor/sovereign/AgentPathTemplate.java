package io.github.keylimeattestor.sovereign;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent ID path, as SPIRE's x509pop does it: a Go-template-like text such as
 * {@code /{{ .PluginName }}/{{ .UUID }}} under {@code spiffe://<trust domain>/spire/agent}. Only
 * {@code {{ .Field }}} is supported, over verified fields only.
 */
public final class AgentPathTemplate {
  public static final String DEFAULT = "/{{ .PluginName }}/{{ .UUID }}";
  public static final Set<String> FIELDS =
      Set.of("PluginName", "TrustDomain", "UUID", "EKHash", "AppKeyHash", "TPMManufacturer", "TPMModel");
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{\\s*\\.([A-Za-z]+)\\s*}}");
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._-]+)+");

  private final String template;

  private AgentPathTemplate(String template) {
    this.template = template;
  }

  /** Parses and checks the template; the message names what to fix. */
  public static AgentPathTemplate parse(String template) {
    if (!template.startsWith("/")) {
      throw new IllegalArgumentException("agent_path_template must start with '/'");
    }
    Matcher m = PLACEHOLDER.matcher(template);
    while (m.find()) {
      if (!FIELDS.contains(m.group(1))) {
        throw new IllegalArgumentException("agent_path_template uses unknown field ." + m.group(1) + "; known: "
            + new java.util.TreeSet<>(FIELDS));
      }
    }
    String rest = PLACEHOLDER.matcher(template).replaceAll("x");
    if (rest.contains("{{") || rest.contains("}}")) {
      throw new IllegalArgumentException("agent_path_template: only {{ .Field }} placeholders are supported");
    }
    AgentPathTemplate t = new AgentPathTemplate(template);
    if (java.util.Collections.disjoint(t.fields(), NODE_FIELDS)) {
      throw new IllegalArgumentException("agent_path_template " + template + " names no node: every node would get the "
          + "same agent ID; use {{ .UUID }}, {{ .EKHash }} or {{ .AppKeyHash }}");
    }
    try {
      t.render(SAMPLE);
    } catch (EvidenceException e) {
      throw new IllegalArgumentException("agent_path_template " + template + " cannot render a valid SPIFFE ID path "
          + "(segments of letters, digits, '.', '_' and '-' between single slashes, no trailing slash); with sample "
          + "values: " + e.getMessage());
    }
    return t;
  }

  /** Fields of which at least one must be used: they tell one node from another. */
  static final Set<String> NODE_FIELDS = Set.of("UUID", "EKHash", "AppKeyHash");
  private static final Map<String, String> SAMPLE = Map.of("PluginName", "keylime", "TrustDomain", "example.org",
      "UUID", "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", "EKHash", "0".repeat(64), "AppKeyHash", "0".repeat(64),
      "TPMManufacturer", "00001014", "TPMModel", "swtpm");

  /** The fields the template uses. */
  public Set<String> fields() {
    Set<String> used = new java.util.TreeSet<>();
    Matcher m = PLACEHOLDER.matcher(template);
    while (m.find()) {
      used.add(m.group(1));
    }
    return used;
  }

  /** The path names the EK ({{ .EKHash }}): an agent ID cannot pass to another TPM. */
  public boolean namesTheEk() {
    return fields().contains("EKHash");
  }

  /**
   * The path is a function of the EK alone ({{ .EKHash }}, no UUID or App Key; the TPM fields come from
   * its certificate): one TPM has one agent ID, whatever UUIDs it registers under.
   */
  public boolean namesTheEkAlone() {
    Set<String> used = fields();
    return used.contains("EKHash") && !used.contains("UUID") && !used.contains("AppKeyHash");
  }

  /** Renders the path; fails if a used field is missing or the result is not a valid SPIFFE path. */
  public String render(Map<String, String> values) throws EvidenceException {
    Matcher m = PLACEHOLDER.matcher(template);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String v = values.get(m.group(1));
      if (v == null || v.isEmpty()) {
        throw EvidenceException.rejected("agent_path", "agent_path_template needs ." + m.group(1)
            + ", which this node's verified evidence does not provide");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(v));
    }
    m.appendTail(out);
    String path = out.toString();
    if (!PATH.matcher(path).matches() || path.contains("/./") || path.contains("/../") || path.endsWith("/.")
        || path.endsWith("/..")) {
      throw EvidenceException.rejected("agent_path", "agent_path_template renders '" + path
          + "', which is not a valid SPIFFE ID path");
    }
    return path;
  }

  /** Values for {@link #render} with everything but the TPM fields. */
  public static Map<String, String> values(String pluginName, String trustDomain, String uuid, String ekHash,
      String appKeyHash) {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("PluginName", pluginName);
    v.put("TrustDomain", trustDomain);
    v.put("UUID", uuid);
    v.put("EKHash", ekHash);
    v.put("AppKeyHash", appKeyHash);
    return v;
  }

  @Override
  public String toString() {
    return template;
  }
}
