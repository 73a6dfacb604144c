import { z } from "zod";

/** What a caller may do: `producer` ingests, `viewer` reads, `admin` does everything and reads the audit. */
export const Role = z.enum(["producer", "viewer", "admin"]);
export type Role = z.infer<typeof Role>;

/** Who may call a route: nobody needs to be signed in (`none`), any signed-in caller, or one role. */
export type Access = "none" | "any" | Role;

/** An authenticated caller. */
export interface Principal {
  /** The user's or API key's name from the credentials file. */
  readonly name: string;
  readonly role: Role;
  readonly via: "token" | "apiKey";
  /** The refresh family the access token belongs to (tokens only). */
  readonly family?: string;
  /** When the access token expires, in milliseconds since the epoch (tokens only). */
  readonly expiresAt?: number;
}

/** Whether `role` may call a route open to `access`; an admin may do what anyone may. */
export const isAllowed = (role: Role, access: Access): boolean =>
  access === "none" || access === "any" || role === "admin" || role === access;
