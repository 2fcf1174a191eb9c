// Plain node:http plumbing for the E2B adapter: its requests never reach burrow's fastify
// routes (their paths and error shapes are E2B's), so bodies are read and answers written here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZodError, type ZodType } from 'zod';

/** An answer in E2B's error shape: `{"code": <status>, "message"}` (spec 2.1, 3.6). */
export class E2bHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'E2bHttpError';
  }
}

const MAX_JSON_BODY = 1 << 20;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A bodyless success the SDK reads without parsing (spec 2.1). */
export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { code: status, message });
}

/** The JSON body parsed by `schema`; an empty body is `{}`. Bad JSON or fields are a 400. */
export async function readJson<T>(req: IncomingMessage, schema: ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY) throw new E2bHttpError(413, `the request body is over ${MAX_JSON_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  let value: unknown = {};
  if (text) {
    try {
      value = JSON.parse(text);
    } catch {
      throw new E2bHttpError(400, 'the body is not JSON');
    }
  }
  return parse(schema, value);
}

export function parse<T>(schema: ZodType<T>, value: unknown): T {
  try {
    return schema.parse(value);
  } catch (e) {
    if (e instanceof ZodError) {
      const first = e.issues[0];
      const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
      throw new E2bHttpError(400, `${where}${first?.message ?? 'invalid request'}`);
    }
    throw e;
  }
}
