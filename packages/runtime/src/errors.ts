/** A setting is missing or malformed; the message names every offending variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A service could not start (a dependency refused it, a port was taken, ...). */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** A command line is wrong: an unknown command or flag, a missing or bad value. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
