package io.github.keylimeattestor.sdk.doctor;

import java.io.PrintStream;

/**
 * The output of {@code <plugin> doctor}: one line per check, "ok" or "FIX" (with what to fix) or
 * "note"; the exit code is 1 when anything needs fixing.
 */
public final class DoctorReport {
  private final PrintStream out;
  private int fixes;

  public DoctorReport(PrintStream out) {
    this.out = out;
  }

  public void ok(String check, String detail) {
    line("ok  ", check, detail);
  }

  public void fix(String check, String whatToFix) {
    fixes++;
    line("FIX ", check, whatToFix);
  }

  public void note(String check, String detail) {
    line("note", check, detail);
  }

  public int fixes() {
    return fixes;
  }

  /** 0 if nothing to fix, else 1. */
  public int exitCode() {
    out.println(fixes == 0 ? "all checks passed" : fixes + " thing(s) to fix");
    out.flush();
    return fixes == 0 ? 0 : 1;
  }

  private void line(String tag, String check, String detail) {
    out.println(tag + " " + check + ": " + detail);
    out.flush();
  }
}
