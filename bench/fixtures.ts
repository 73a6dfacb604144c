import { randomUUID } from "node:crypto";
import type { SecurityEvent } from "@vigil/shared";

const MESSAGES = [
  "Failed SSH login for user admin from 198.51.100.23 (invalid password)",
  "Port scan detected from 203.0.113.77: 1024 ports in 3s",
  "Malware signature Trojan.GenericKD matched in /tmp/invoice.pdf.exe on host ws-114",
  "Privilege escalation: user deploy ran sudo su - outside change window on db-02",
  "Firewall dropped 512 packets from 192.0.2.14 to 10.0.3.9:3389",
] as const;

/** A realistic event of about the size the daemon produces, with a fresh id. */
export const syntheticEvent = (i: number, at: number = Date.now()): SecurityEvent => ({
  criticality: i % 11,
  timestamp: new Date(at).toISOString(),
  eventMessage: MESSAGES[i % MESSAGES.length] as string,
  id: randomUUID(),
  source: "bench",
});
