// The little of the DNS wire format (RFC 1035) the resolver needs: a query's question, the A
// records of an answer with their TTLs, and building REFUSED or simple A answers. Anything it
// cannot parse is treated as malformed and dropped; upstream answers are forwarded as they are.

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;
export const RCODE_NOERROR = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

export interface Question {
  /** Lower case, no trailing dot. */
  name: string;
  type: number;
  class: number;
}

export interface ParsedQuery {
  id: number;
  flags: number;
  question: Question;
  /** Offset just past the question: header + question is what a reply repeats. */
  questionEnd: number;
}

export interface AddressRecord {
  name: string;
  ip: string;
  ttl: number;
}

export class MalformedDns extends Error {}

function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  for (let jumps = 0; jumps < 64; jumps++) {
    if (offset >= buf.length) throw new MalformedDns('name runs past the message');
    const len = buf[offset]!;
    if (len === 0) {
      if (end < 0) end = offset + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (offset + 1 >= buf.length) throw new MalformedDns('truncated pointer');
      if (end < 0) end = offset + 2;
      offset = ((len & 0x3f) << 8) | buf[offset + 1]!;
      continue;
    }
    if (len > 63 || offset + 1 + len > buf.length) throw new MalformedDns('bad label');
    labels.push(buf.toString('latin1', offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  throw new MalformedDns('too many compression pointers');
}

export function parseQuery(buf: Buffer): ParsedQuery {
  if (buf.length < 12) throw new MalformedDns('shorter than a header');
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) throw new MalformedDns('not a query');
  if (buf.readUInt16BE(4) !== 1) throw new MalformedDns('exactly one question is supported');
  const { name, end } = readName(buf, 12);
  if (end + 4 > buf.length) throw new MalformedDns('truncated question');
  return {
    id: buf.readUInt16BE(0),
    flags,
    question: { name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2) },
    questionEnd: end + 4,
  };
}

export function responseCode(buf: Buffer): number {
  if (buf.length < 12) throw new MalformedDns('shorter than a header');
  return buf.readUInt16BE(2) & 0xf;
}

/** The A records of an answer section (CNAME chains included: every A of the answer counts). */
export function answerAddresses(buf: Buffer): AddressRecord[] {
  if (buf.length < 12) throw new MalformedDns('shorter than a header');
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let offset = 12;
  for (let i = 0; i < qd; i++) offset = readName(buf, offset).end + 4;
  const out: AddressRecord[] = [];
  for (let i = 0; i < an; i++) {
    const { name, end } = readName(buf, offset);
    if (end + 10 > buf.length) throw new MalformedDns('truncated record');
    const type = buf.readUInt16BE(end);
    const ttl = buf.readUInt32BE(end + 4);
    const rdlength = buf.readUInt16BE(end + 8);
    const rdata = end + 10;
    if (rdata + rdlength > buf.length) throw new MalformedDns('truncated record data');
    if (type === TYPE_A && rdlength === 4) out.push({ name, ip: [...buf.subarray(rdata, rdata + 4)].join('.'), ttl });
    offset = rdata + rdlength;
  }
  return out;
}

/** A reply with no records and the given code, repeating the query's question. */
export function emptyReply(query: Buffer, parsed: ParsedQuery, rcode: number): Buffer {
  const out = Buffer.from(query.subarray(0, parsed.questionEnd));
  // QR, the query's opcode and RD, RA, the code; one question, nothing else.
  out.writeUInt16BE(0x8000 | (parsed.flags & 0x7900) | 0x0080 | rcode, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** An authoritative-style answer with A records for the question's name (test upstreams). */
export function addressReply(query: Buffer, parsed: ParsedQuery, ips: string[], ttl: number): Buffer {
  const head = emptyReply(query, parsed, RCODE_NOERROR);
  head.writeUInt16BE(ips.length, 6);
  const records = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((p, i) => rr.writeUInt8(Number(p), 12 + i));
    return rr;
  });
  return Buffer.concat([head, ...records]);
}
