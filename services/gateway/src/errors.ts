/** Every error code of the HTTP API, with its status (the contract in DESIGN.md, "The gateway"). */
export const API_ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_EVENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** A field of the request that broke the contract, as `INVALID_EVENT` lists them. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

/** Options of an {@link ApiError} beyond its code and message. */
export interface ApiErrorOptions extends ErrorOptions {
  /** Seconds after which the client may try again (`Retry-After`), for 429 and 503. */
  readonly retryAfterSeconds?: number;
  readonly issues?: readonly Issue[];
  /** Which explicit limit a request broke (`bodyBytes`, `eventBytes`, `batchLength`, `jsonDepth`). */
  readonly limit?: string;
}

/** An error the gateway answers with `{error: {code, message}}` and the code's status. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly statusCode: number;
  readonly retryAfterSeconds: number | undefined;
  readonly issues: readonly Issue[] | undefined;
  readonly limit: string | undefined;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
    this.statusCode = API_ERROR_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.issues = options.issues;
    this.limit = options.limit;
  }
}
