import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors.js";

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest nesting of objects and arrays in JSON `bytes`, counted without parsing, so that a
 * hostile body (`[[[[...`) is refused before the parser spends anything on it. Brackets inside
 * strings do not count. Stops counting once `limit` is passed.
 */
export const jsonDepthExceeds = (bytes: Uint8Array, limit: number): boolean => {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return false;
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a JSON request body: UTF-8 only, nested at most `maxDepth` deep. */
export const parseJsonBody = (body: Buffer, maxDepth: number): unknown => {
  if (body.byteLength === 0) throw new ApiError("BAD_REQUEST", "the body is empty: send a JSON document");
  if (jsonDepthExceeds(body, maxDepth)) {
    throw new ApiError("BAD_REQUEST", `the JSON body is nested deeper than ${maxDepth} levels`, { limit: "jsonDepth" });
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (cause) {
    throw new ApiError("BAD_REQUEST", "the body is not valid UTF-8", { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ApiError("BAD_REQUEST", `the body is not JSON: ${(cause as Error).message}`, { cause });
  }
};

/**
 * Makes `application/json` the only body type the gateway reads; anything else is answered
 * `UNSUPPORTED_MEDIA_TYPE` by fastify before the body is read.
 */
export const acceptJsonOnly = (app: FastifyInstance, maxDepth: number): void => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, maxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
};
