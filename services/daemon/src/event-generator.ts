import { randomUUID } from "node:crypto";
import type { SecurityEvent } from "@vigil/shared";
import { CRITICALITY_LEVELS, createCriticalitySampler } from "./criticality.js";

/** An event with the id that doubles as its `Nats-Msg-Id`, as the daemon makes them. */
export type IdentifiedEvent = SecurityEvent & { readonly id: string };

/** A source of uniform numbers in [0, 1), such as `Math.random` or a seeded generator in tests. */
export type RandomSource = () => number;

/** What a message template draws its details from. */
interface Details {
  int(min: number, max: number): number;
  one(list: readonly string[]): string;
  user(): string;
  host(): string;
  domainController(): string;
  publicIp(): string;
  privateIp(): string;
  malware(): string;
}

/** A message for events whose criticality lies in `[min, max]`. */
interface Template {
  readonly min: number;
  readonly max: number;
  readonly render: (d: Details) => string;
}

const USERS = [
  "alice",
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "mallory",
  "oscar",
  "peggy",
  "trent",
  "victor",
  "walter",
  "root",
  "admin",
  "svc-backup",
  "svc-deploy",
];
const HOST_ROLES = ["web", "db", "api", "mail", "vpn", "ci", "build", "files", "k8s-node", "jump", "hr-laptop"];
const MALWARE = [
  "Trojan.GenericKD.46381920",
  "Win32/Emotet.AB",
  "Linux.Mirai.B",
  "Ransom.LockBit.3",
  "Backdoor.CobaltStrike.Beacon",
  "HackTool.Mimikatz",
  "Exploit.Log4Shell.CVE-2021-44228",
  "Trojan.Qakbot.Dropper",
  "Coinminer.XMRig",
];
const CITIES = ["Berlin", "Singapore", "Sao Paulo", "Toronto", "Lagos", "Sydney", "Moscow", "Chicago", "Mumbai"];
const COUNTRIES = ["North Korea", "Iran", "Russia", "Brazil", "Vietnam", "Nigeria", "China", "Romania"];
const SERVICES = ["SSH", "RDP", "SMB", "IMAP", "the VPN portal", "the admin console"];
const WEB_PATHS = ["/login", "/api/v1/users", "/search", "/admin/export", "/wp-login.php", "/graphql"];
const SUSPICIOUS_FILES = [
  "/tmp/.X11-unix/.kworker",
  "/var/www/html/uploads/img.php",
  "C:\\Users\\Public\\invoice_0423.exe",
  "C:\\Windows\\Temp\\svchost32.dll",
  "/dev/shm/.cache/xmr",
];
const ESCALATIONS = [
  "CVE-2021-4034 (pkexec)",
  "a writable root cron job",
  "a misconfigured sudoers entry",
  "CVE-2022-0847 (Dirty Pipe)",
  "a token impersonation",
];
const PROCESSES = ["winword.exe", "excel.exe", "rundll32.exe", "python3", "bash", "powershell.exe"];
const ENCRYPTED_EXTENSIONS = ["locked", "lockbit", "crypt", "enc", "pay2decrypt"];

/**
 * Message templates, from routine to critical. Each covers a band of criticality so that the same
 * kind of incident reads more alarming as it gets more severe; together they cover every level.
 */
const TEMPLATES: readonly Template[] = [
  { min: 0, max: 1, render: (d) => `User ${d.user()} logged in to ${d.host()} via SSH from ${d.privateIp()}` },
  { min: 0, max: 1, render: (d) => `User ${d.user()} logged out of ${d.host()}` },
  { min: 0, max: 1, render: (d) => `Scheduled vulnerability scan of ${d.host()} finished: no new findings` },
  { min: 0, max: 1, render: (d) => `Firewall allowed outbound HTTPS from ${d.host()} to ${d.publicIp()}:443` },
  {
    min: 0,
    max: 2,
    render: (d) => `Antivirus signatures on ${d.host()} updated to version 2024.${d.int(1, 12)}.${d.int(1, 28)}`,
  },
  { min: 1, max: 2, render: (d) => `Password changed for user ${d.user()}` },
  {
    min: 1,
    max: 3,
    render: (d) => `Failed SSH login for ${d.user()} on ${d.host()} from ${d.publicIp()} port ${d.int(32_768, 60_999)}`,
  },
  {
    min: 1,
    max: 3,
    render: (d) =>
      `Firewall dropped inbound TCP from ${d.publicIp()}:${d.int(1024, 65_535)} to ${d.host()}:${d.one(["22", "23", "445", "3389", "5900"])}`,
  },
  { min: 2, max: 3, render: (d) => `TLS certificate of ${d.host()}.corp.example expires in ${d.int(2, 14)} days` },
  {
    min: 2,
    max: 4,
    render: (d) =>
      `DNS query from ${d.host()} for newly registered domain ${d.one(["xj3k", "q0rb", "zz9t"])}${d.int(10, 99)}.top`,
  },
  {
    min: 3,
    max: 5,
    render: (d) =>
      `Port scan from ${d.publicIp()}: ${d.int(100, 5000)} ports probed on ${d.host()} in ${d.int(2, 60)}s`,
  },
  {
    min: 3,
    max: 5,
    render: (d) =>
      `${d.int(5, 40)} failed SSH logins for ${d.user()} on ${d.host()} from ${d.publicIp()} within ${d.int(1, 10)} minutes`,
  },
  { min: 3, max: 5, render: (d) => `Account ${d.user()} locked after ${d.int(5, 12)} failed password attempts` },
  {
    min: 4,
    max: 6,
    render: (d) =>
      `Web application firewall blocked SQL injection from ${d.publicIp()} on ${d.one(WEB_PATHS)} of ${d.host()}`,
  },
  {
    min: 4,
    max: 6,
    render: (d) => `Sign-in for ${d.user()} from unusual country ${d.one(COUNTRIES)} (${d.publicIp()})`,
  },
  {
    min: 5,
    max: 7,
    render: (d) =>
      `Impossible travel: ${d.user()} signed in from ${d.one(CITIES)} and ${d.one(CITIES)} ${d.int(3, 50)} minutes apart`,
  },
  {
    min: 5,
    max: 7,
    render: (d) =>
      `Brute force against ${d.one(SERVICES)} on ${d.host()}: ${d.int(500, 20_000)} attempts from ${d.int(2, 300)} addresses`,
  },
  {
    min: 5,
    max: 7,
    render: (d) => `Encoded PowerShell command launched by ${d.one(PROCESSES)} on ${d.host()} as ${d.user()}`,
  },
  {
    min: 6,
    max: 8,
    render: (d) => `New local administrator account "support${d.int(1, 99)}" created on ${d.host()} by ${d.user()}`,
  },
  {
    min: 6,
    max: 8,
    render: (d) => `Outbound connection from ${d.host()} to known Tor exit node ${d.publicIp()}:${d.int(9001, 9030)}`,
  },
  {
    min: 7,
    max: 9,
    render: (d) =>
      `Malware signature ${d.malware()} detected in ${d.one(SUSPICIOUS_FILES)} on ${d.host()}; file quarantined`,
  },
  {
    min: 7,
    max: 9,
    render: (d) => `Privilege escalation: ${d.user()} obtained root on ${d.host()} through ${d.one(ESCALATIONS)}`,
  },
  {
    min: 7,
    max: 9,
    render: (d) => `Command-and-control beacon from ${d.host()} to ${d.publicIp()} every ${d.int(5, 120)}s`,
  },
  { min: 8, max: 9, render: (d) => `Web shell uploaded to ${d.host()}:/var/www/html/uploads/${d.int(100, 999)}.php` },
  { min: 8, max: 10, render: (d) => `Endpoint security agent stopped on ${d.host()} by ${d.user()}` },
  {
    min: 9,
    max: 10,
    render: (d) =>
      `Ransomware on ${d.host()}: ${d.int(1_000, 90_000)} files renamed to *.${d.one(ENCRYPTED_EXTENSIONS)} in ${d.int(10, 300)}s`,
  },
  {
    min: 9,
    max: 10,
    render: (d) => `Credential dumping: ${d.one(PROCESSES)} read LSASS memory on ${d.domainController()}`,
  },
  {
    min: 9,
    max: 10,
    render: (d) =>
      `Data exfiltration: ${d.int(1, 80)}.${d.int(0, 9)} GB sent from ${d.host()} to ${d.publicIp()} in ${d.int(2, 90)} minutes`,
  },
  {
    min: 10,
    max: 10,
    render: (d) => `Malware ${d.malware()} running on ${d.domainController()}; quarantine FAILED`,
  },
  { min: 10, max: 10, render: (d) => `Security audit log cleared on ${d.domainController()} by ${d.user()}` },
];

/** The templates that fit each criticality, indexed by criticality; built once at load. */
const TEMPLATES_BY_LEVEL: readonly (readonly Template["render"][])[] = Array.from(
  { length: CRITICALITY_LEVELS },
  (_, level) => TEMPLATES.filter((t) => t.min <= level && level <= t.max).map((t) => t.render),
);

/** Settings of {@link createEventGenerator}. */
export interface EventGeneratorOptions {
  /** Relative weight of each criticality 0..10. */
  readonly weights: readonly number[];
  /** `source` field of every event. */
  readonly source: string;
  /** Uniform numbers in [0, 1); seed it in tests. Defaults to `Math.random`. */
  readonly random?: RandomSource;
  /** Milliseconds since the epoch for `timestamp`. Defaults to `Date.now`. */
  readonly now?: () => number;
  /** Event id. Defaults to `crypto.randomUUID`. */
  readonly newId?: () => string;
}

/** Returns a function that makes one random, valid security event per call. */
export const createEventGenerator = (options: EventGeneratorOptions): (() => IdentifiedEvent) => {
  const { source, random = Math.random, now = Date.now, newId = randomUUID } = options;
  const drawCriticality = createCriticalitySampler(options.weights);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const one = (list: readonly string[]) => list[Math.floor(random() * list.length)] as string;
  const details: Details = {
    int,
    one,
    user: () => one(USERS),
    host: () => `${one(HOST_ROLES)}-${String(int(1, 40)).padStart(2, "0")}`,
    domainController: () => `dc-0${int(1, 3)}`,
    // Public-looking addresses: skip 0.x, 10.x and 127.x, which no internet peer uses.
    publicIp: () => `${int(11, 126)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    privateIp: () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    malware: () => one(MALWARE),
  };
  // At thousands of events a second most share their millisecond with the one before, and
  // formatting a Date costs more than the rest of the event: the text is kept for the next one.
  let lastMs = Number.NaN;
  let lastTimestamp = "";
  const timestampAt = (ms: number): string => {
    if (ms !== lastMs) {
      lastMs = ms;
      lastTimestamp = new Date(ms).toISOString();
    }
    return lastTimestamp;
  };
  return () => {
    const criticality = drawCriticality(random());
    const templates = TEMPLATES_BY_LEVEL[criticality] as readonly Template["render"][];
    const render = templates[Math.floor(random() * templates.length)] as Template["render"];
    return {
      criticality,
      timestamp: timestampAt(now()),
      eventMessage: render(details),
      id: newId(),
      source,
    };
  };
};
