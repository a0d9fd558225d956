/** Facility names by code (RFC 5424 table 1, as syslog.h and `logger` name them). */
export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type Facility = (typeof FACILITIES)[number];

/** Severity names by code, most severe first (RFC 5424 table 2). */
export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One parsed syslog message. Absent header fields are ''. */
export interface SyslogMessage {
  format: 'rfc3164' | 'rfc5424';
  facility: number;
  severity: number;
  /** Time the sender put in the header (ms since epoch), when it has one that parses. */
  ts?: number;
  /** HOSTNAME, or the sender's address when the message names no host. */
  host: string;
  /** APP-NAME (RFC 5424) or TAG (RFC 3164). */
  app: string;
  procId: string;
  msgId: string;
  /** STRUCTURED-DATA as sent ('' when nil). */
  sd: string;
  msg: string;
}

/** Why a message was rejected. */
export const RejectReason = {
  pri: 'pri',
  header: 'header',
  oversize: 'oversize',
  framing: 'framing',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
const ISO_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;
const MAX_TAG = 48;

const isDigit = (c: number) => c >= 48 && c <= 57;
/** A letter, digit or one of _ . / - (what tags hold in practice). */
const isTagChar = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 47 || c === 45;

/**
 * Parses one syslog message (RFC 5424 when the PRI is followed by version `1 `, else RFC 3164 in
 * its common variants). `peer` names the host when the header does not; `now` places RFC 3164's
 * year-less timestamps. Returns a reject reason instead of throwing.
 */
export function parseSyslog(s: string, peer = '', now = Date.now()): SyslogMessage | RejectReason {
  // PRI: "<" 1-3 digits (no leading zero) ">", at most 191.
  if (s.charCodeAt(0) !== 60) return RejectReason.pri;
  let i = 1;
  let pri = 0;
  while (i < 5 && isDigit(s.charCodeAt(i))) pri = pri * 10 + s.charCodeAt(i++) - 48;
  const digits = i - 1;
  if (digits === 0 || digits > 3 || s.charCodeAt(i) !== 62 || pri > 191 || (digits > 1 && s.charCodeAt(1) === 48)) return RejectReason.pri;
  i++;
  let end = s.length;
  while (end > i && (s.charCodeAt(end - 1) === 10 || s.charCodeAt(end - 1) === 13 || s.charCodeAt(end - 1) === 0)) end--; // trailing LF/CR/NUL
  const facility = pri >> 3;
  const severity = pri & 7;
  return s.charCodeAt(i) === 49 && s.charCodeAt(i + 1) === 32
    ? parse5424(s, i + 2, end, facility, severity, peer)
    : parse3164(s, i, end, facility, severity, peer, now);
}

function parse5424(s: string, i: number, end: number, facility: number, severity: number, peer: string): SyslogMessage | RejectReason {
  const fields: string[] = [];
  const limits = [64, 255, 48, 128, 32]; // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
  for (const limit of limits) {
    const sp = s.indexOf(' ', i);
    if (sp <= i || sp >= end || sp - i > limit) return RejectReason.header;
    const f = s.slice(i, sp);
    fields.push(f === '-' ? '' : f);
    i = sp + 1;
  }
  const [stamp, host, app, procId, msgId] = fields as [string, string, string, string, string];
  let ts: number | undefined;
  if (stamp) {
    if (!ISO_TS.test(stamp)) return RejectReason.header;
    ts = Date.parse(stamp);
    if (Number.isNaN(ts)) return RejectReason.header;
  }
  // STRUCTURED-DATA: "-" or one or more [id param="value" …]; inside values \" \\ \] are escapes.
  const sdStart = i;
  if (s.charCodeAt(i) === 45) i++;
  else {
    if (s.charCodeAt(i) !== 91) return RejectReason.header;
    while (i < end && s.charCodeAt(i) === 91) {
      let quoted = false;
      for (i++; i < end; i++) {
        const c = s.charCodeAt(i);
        if (quoted) {
          if (c === 92) i++;
          else if (c === 34) quoted = false;
        } else if (c === 34) quoted = true;
        else if (c === 93) break;
      }
      if (i >= end) return RejectReason.header;
      i++;
    }
  }
  const sd = s.charCodeAt(sdStart) === 45 ? '' : s.slice(sdStart, i);
  let msg = '';
  if (i < end) {
    if (s.charCodeAt(i) !== 32) return RejectReason.header;
    i++;
    if (s.charCodeAt(i) === 0xfeff) i++; // BOM of a UTF-8 MSG
    msg = s.slice(i, end);
  }
  return { format: 'rfc5424', facility, severity, ...(ts !== undefined ? { ts } : {}), host: host || peer, app, procId, msgId, sd, msg };
}

/** Two digits, the first may be a space (RFC 3164 pads the day that way); NaN otherwise. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  if (!isDigit(b) || (a !== 32 && !isDigit(a))) return NaN;
  return (a === 32 ? 0 : (a - 48) * 10) + b - 48;
}

// Memos for RFC 3164 stamps (messages come in bursts within one hour): local time is costly to compute.
let hourKey = -1;
let hourStart = 0;
let yearFrom = 0;
let yearTo = -1;
let year = 0;

/** Start of a local hour in ms since epoch (minutes and seconds within it are linear). */
function localHour(y: number, month: number, day: number, hh: number): number {
  const key = ((y * 12 + month) * 32 + day) * 24 + hh;
  if (key !== hourKey) {
    hourKey = key;
    hourStart = new Date(y, month, day, hh).getTime();
  }
  return hourStart;
}

/** The local calendar year at `now`. */
function yearAt(now: number): number {
  if (now < yearFrom || now >= yearTo) {
    year = new Date(now).getFullYear();
    yearFrom = new Date(year, 0, 1).getTime();
    yearTo = new Date(year + 1, 0, 1).getTime();
  }
  return year;
}

function parse3164(s: string, i: number, end: number, facility: number, severity: number, peer: string, now: number): SyslogMessage {
  let ts: number | undefined;
  let host = '';
  // "Mmm dd hh:mm:ss " (dd space-padded), or an ISO 8601 stamp as rsyslog forwards.
  const month = s.charCodeAt(i + 3) === 32 && s.charCodeAt(i + 15) === 32 ? MONTHS.indexOf(s.slice(i, i + 3)) : -1;
  if (month >= 0 && month % 3 === 0 && s.charCodeAt(i + 9) === 58 && s.charCodeAt(i + 12) === 58) {
    const [day, hh, mm, ss] = [two(s, i + 4), two(s, i + 7), two(s, i + 10), two(s, i + 13)];
    if (day >= 1 && day <= 31 && hh < 24 && mm < 60 && ss < 61) {
      // No year on the wire: this year, or last year for a date that would be in the future (Dec at New Year).
      const year = yearAt(now);
      const within = mm * 60_000 + ss * 1000;
      ts = localHour(year, month / 3, day, hh) + within;
      if (ts > now + 86_400_000) ts = localHour(year - 1, month / 3, day, hh) + within;
      i += 16;
    }
  } else if (isDigit(s.charCodeAt(i)) && s.charCodeAt(i + 4) === 45 && s.charCodeAt(i + 10) === 84) {
    const sp = s.indexOf(' ', i);
    const stamp = sp < 0 ? '' : s.slice(i, sp);
    if (ISO_TS.test(stamp)) {
      ts = Date.parse(stamp);
      i = sp + 1;
    }
  }
  if (ts !== undefined) {
    // HOSTNAME follows the stamp, unless the next word is already the tag ("app:" or "app[12]:").
    const sp = s.indexOf(' ', i);
    if (sp > i && sp < end) {
      const word = s.slice(i, sp);
      if (!word.endsWith(':') && !word.includes('[')) {
        host = word;
        i = sp + 1;
      }
    }
  }
  // TAG: up to 48 name characters, then "[pid]" and/or ":" before the message.
  let app = '';
  let procId = '';
  let j = i;
  while (j < end && j - i <= MAX_TAG && isTagChar(s.charCodeAt(j))) j++;
  if (j > i && j - i <= MAX_TAG) {
    let k = j;
    let pid = '';
    if (s.charCodeAt(k) === 91) {
      const close = s.indexOf(']', k);
      if (close > k && close - k <= 129) {
        pid = s.slice(k + 1, close);
        k = close + 1;
      }
    }
    if (s.charCodeAt(k) === 58) {
      app = s.slice(i, j);
      procId = pid;
      i = k + 1;
      if (s.charCodeAt(i) === 32) i++;
    }
  }
  return { format: 'rfc3164', facility, severity, ...(ts !== undefined ? { ts } : {}), host: host || peer, app, procId, msgId: '', sd: '', msg: s.slice(i, end) };
}
