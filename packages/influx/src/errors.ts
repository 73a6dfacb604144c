/** InfluxDB could not be reached or answered with a server-side failure: worth retrying later. */
export class InfluxUnavailableError extends Error {
  override readonly name = "InfluxUnavailableError";
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** InfluxDB refused the request itself (bad points, bad query, no permission): retrying the same request fails again. */
export class InfluxRejectedError extends Error {
  override readonly name = "InfluxRejectedError";
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * InfluxDB's answer is larger than the caller allowed: reading stopped at the limit, so the
 * answer never sat whole in memory. Asking for less (a smaller limit) is the remedy, not retrying.
 */
export class InfluxResponseTooLargeError extends Error {
  override readonly name = "InfluxResponseTooLargeError";
  constructor(
    message: string,
    readonly maxBytes: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
