// envd's `/files` (spec 3.6): download a file's bytes; upload one raw body (octet-stream,
// optionally gzip) or many multipart parts named `file` whose filenames are the target paths.
// Bytes stream through sandbox-fs both ways; parent directories are made, files overwritten.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import busboy from 'busboy';
import type { SandboxFs } from '../../../core/sandbox-fs.js';
import { E2bHttpError, sendJson } from './http.js';
import { resolvePath, userNamed, type EnvdUser } from './envd-users.js';

export interface WriteInfo {
  name: string;
  type: 'file';
  path: string;
}

/** Parts of one multipart upload (the SDK sends one per file of an array write). */
const MAX_PARTS = 1000;

export function userOf(query: URLSearchParams): EnvdUser {
  const name = query.get('username');
  const user = userNamed(name);
  if (!user) throw new E2bHttpError(401, `user '${(name ?? '').slice(0, 64)}' does not exist in this sandbox (use 'user' or 'root')`);
  return user;
}

export async function download(fs: SandboxFs, sandbox: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
  const user = userOf(query);
  const raw = query.get('path');
  if (!raw) throw new E2bHttpError(400, 'the path query parameter is required');
  const body = await fs.read(sandbox, resolvePath(raw, user), { asRoot: user.asRoot });
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  await pipeline(body, res).catch(() => res.destroy());
}

export async function upload(fs: SandboxFs, sandbox: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const user = userOf(query);
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const queryPath = query.get('path');
  const write = async (target: string, body: Readable): Promise<WriteInfo> => {
    const path = resolvePath(target, user);
    await fs.write(sandbox, path, body, { asRoot: user.asRoot, mkdir: 'parents' });
    return { name: posix.basename(path), type: 'file', path };
  };

  if (type.startsWith('multipart/form-data')) return sendJson(res, 200, await multipart(req, queryPath, write));
  if (!queryPath) throw new E2bHttpError(400, 'a raw upload needs the path query parameter');
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding && encoding !== 'gzip' && encoding !== 'identity') throw new E2bHttpError(400, `Content-Encoding '${encoding}' is not supported (use gzip)`);
  const body = encoding === 'gzip' ? req.pipe(createGunzip()) : req;
  sendJson(res, 200, [await write(queryPath, body)]);
}

/** Each part is written before the next is read: busboy holds the rest back meanwhile. */
function multipart(req: IncomingMessage, queryPath: string | null, write: (target: string, body: Readable) => Promise<WriteInfo>): Promise<WriteInfo[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, preservePath: true, limits: { files: MAX_PARTS, fields: MAX_PARTS } });
    } catch (e) {
      return reject(new E2bHttpError(400, `not a multipart body: ${(e as Error).message}`));
    }
    const written: WriteInfo[] = [];
    let chain = Promise.resolve();
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      reject(e);
    };
    parser.on('file', (field, stream, info) => {
      if (failed) return void stream.resume();
      const target = queryPath ?? info.filename;
      if (field !== 'file' || !target) {
        stream.resume();
        return fail(new E2bHttpError(400, `each part must be named 'file' and have the target path as its filename`));
      }
      chain = chain.then(() => (failed ? void stream.resume() : write(target, stream).then((w) => void written.push(w)))).catch((e) => {
        stream.resume();
        fail(e);
      });
    });
    parser.on('error', (e: Error) => fail(new E2bHttpError(400, `the multipart body is malformed: ${e.message}`)));
    parser.on('close', () => {
      void chain.then(() => {
        if (failed) return;
        if (written.length === 0) return fail(new E2bHttpError(400, 'the multipart body has no file part'));
        resolve(written);
      });
    });
    req.pipe(parser);
  });
}
