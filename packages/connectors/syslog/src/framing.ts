import { RejectReason } from './parse.js';

const LF = 10;
const MAX_LEN_DIGITS = 6;

/**
 * Splits one TCP stream into syslog frames (RFC 6587): octet counting ("LEN SP MSG") when a frame
 * starts with a digit, newline framing when it starts with "<". Holds at most `maxBytes` plus a
 * length prefix; an oversize frame is skipped (exactly, when counted; up to the next LF otherwise)
 * and anything else is a framing reject that skips to the next LF.
 */
export class Framer {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes still to drop of an oversize counted frame. */
  private skipBytes = 0;
  /** Dropping up to the next LF (an oversize line, or garbage). */
  private skipLine = false;

  constructor(
    /** The listener whose current size limit applies. */
    private readonly limits: { readonly maxBytes: number },
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onReject: (reason: RejectReason) => void,
  ) {}

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const len = buf.length;
    let p = 0;
    while (p < len) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, len - p);
        this.skipBytes -= n;
        p += n;
        continue;
      }
      if (this.skipLine) {
        const nl = buf.indexOf(LF, p);
        if (nl < 0) {
          p = len;
          break;
        }
        this.skipLine = false;
        p = nl + 1;
        continue;
      }
      const c = buf[p]!;
      if (c === LF || c === 13 || c === 0 || c === 32) {
        p++; // blank lines and stray separators between frames
      } else if (c >= 48 && c <= 57) {
        let q = p;
        let n = 0;
        while (q < len && q - p < MAX_LEN_DIGITS && buf[q]! >= 48 && buf[q]! <= 57) n = n * 10 + buf[q++]! - 48;
        if (q === len && q - p < MAX_LEN_DIGITS) break; // the length is not complete yet
        if (buf[q] !== 32 || n === 0) {
          this.onReject(RejectReason.framing);
          this.skipLine = true;
          p = q;
          continue;
        }
        q++;
        if (n > this.limits.maxBytes) {
          this.onReject(RejectReason.oversize);
          this.skipBytes = n;
          p = q;
          continue;
        }
        if (len - q < n) break; // wait for the rest of the frame
        this.onFrame(buf.subarray(q, q + n));
        p = q + n;
      } else if (c === 60) {
        const nl = buf.indexOf(LF, p);
        if (nl < 0) {
          if (len - p > this.limits.maxBytes) {
            this.onReject(RejectReason.oversize);
            this.skipLine = true;
            p = len;
          }
          break;
        }
        if (nl - p > this.limits.maxBytes) this.onReject(RejectReason.oversize);
        else this.onFrame(buf.subarray(p, nl));
        p = nl + 1;
      } else {
        this.onReject(RejectReason.framing);
        this.skipLine = true;
      }
    }
    // Keep only the unfinished frame, copied so the chunk it came from can be freed.
    this.pending = p < len ? Buffer.from(buf.subarray(p)) : Buffer.alloc(0);
  }

  /** The stream ended: a last unterminated line is a frame; half a counted frame is a reject. */
  end(): void {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (this.skipBytes > 0 || this.skipLine || rest.length === 0) return;
    if (rest[0] === 60) this.onFrame(rest);
    else this.onReject(RejectReason.framing);
  }
}
