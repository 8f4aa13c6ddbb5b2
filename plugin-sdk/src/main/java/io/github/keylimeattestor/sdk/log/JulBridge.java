package io.github.keylimeattestor.sdk.log;

import java.util.logging.Handler;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Routes java.util.logging (used by grpc-java and, without slf4j, by Netty) into hclog lines, so
 * no library ever prints plain text that SPIRE would file under DEBUG (or worse, on stdout).
 */
public final class JulBridge extends Handler {
  private final Log log = Log.named("jul");

  private JulBridge() {}

  public static void install(java.util.logging.Level minimum) {
    LogManager.getLogManager().reset();
    Logger root = Logger.getLogger("");
    root.setLevel(minimum);
    root.addHandler(new JulBridge());
  }

  @Override
  public void publish(LogRecord record) {
    int v = record.getLevel().intValue();
    Level level;
    if (v >= java.util.logging.Level.SEVERE.intValue()) {
      level = Level.ERROR;
    } else if (v >= java.util.logging.Level.WARNING.intValue()) {
      level = Level.WARN;
    } else if (v >= java.util.logging.Level.INFO.intValue()) {
      level = Level.INFO;
    } else if (v >= java.util.logging.Level.FINE.intValue()) {
      level = Level.DEBUG;
    } else {
      level = Level.TRACE;
    }
    String message = record.getMessage();
    if (record.getParameters() != null && message != null && message.contains("{0")) {
      try {
        message = java.text.MessageFormat.format(message, record.getParameters());
      } catch (IllegalArgumentException e) {
        // not a pattern after all ("{0" in a literal): the message as it is
      }
    }
    if (record.getThrown() != null) {
      log.log(level, message, "logger", record.getLoggerName(), "error", record.getThrown());
    } else {
      log.log(level, message, "logger", record.getLoggerName());
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
