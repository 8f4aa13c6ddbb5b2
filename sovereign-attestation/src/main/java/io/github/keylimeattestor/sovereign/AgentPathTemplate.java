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
    return new AgentPathTemplate(template);
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
