/**
 * Headers on every answer of the public port: the API serves JSON only, so nothing it sends may
 * be sniffed as another type, framed, cached or sent on as a referrer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
});

/** Added to {@link SECURITY_HEADERS} when the public port speaks TLS. */
export const TLS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "strict-transport-security": "max-age=31536000",
});
