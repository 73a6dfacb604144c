export type { Authenticator, GatewayApp, GatewayOptions } from "./app.js";
export { buildGateway } from "./app.js";
export type { Access, Principal } from "./auth/principal.js";
export { isAllowed, Role } from "./auth/principal.js";
export type { GatewayConfig, GatewaySettings } from "./config.js";
export { GatewayEnv, loadConfig } from "./config.js";
export type { ApiErrorCode, Issue } from "./errors.js";
export { API_ERROR_STATUS, ApiError } from "./errors.js";
export type { LiveCloseReason, LiveFrameType } from "./live/frames.js";
export {
  LIVE_CLOSE,
  LIVE_PROTOCOL,
  LiveEventFrame,
  LiveGapFrame,
  LivePingFrame,
  LiveServerFrame,
  TOKEN_PROTOCOL_PREFIX,
} from "./live/frames.js";
