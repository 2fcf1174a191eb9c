// The coding agents' upstreams on the fake internet, one HTTPS server on 443 for every name:
// api.anthropic.com (Messages API), api.openai.com (Responses API), the Gemini API
// (streamGenerateContent) each answer every model call with one short streamed reply in that
// API's wire format, and github.com serves git over HTTPS (git http-backend) to Basic
// credentials whose SHA-256 is in GIT_AUTH_SHA256. Credentials are recorded only as SHA-256,
// so that nothing a sandbox could fetch from here holds one. GET /__seen lists what came in.
// Run as `node fake-apis.mjs` with CERTS (name -> {key, cert}), REPLY and GIT_ROOT set.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:https';
import { createSecureContext } from 'node:tls';

const certs = JSON.parse(process.env.CERTS);
const REPLY = process.env.REPLY;
const seen = [];
const sha256 = (text) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key'];

function record(req, body) {
  const headers = { ...req.headers };
  for (const name of CREDENTIAL_HEADERS) if (headers[name]) headers[name] = sha256(headers[name]);
  seen.push({ host: req.headers.host, method: req.method, url: req.url, headers, body: body.slice(0, 2000) });
}

function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [event, data] of events) res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  res.end();
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function anthropic(req, res, body) {
  if (req.method !== 'POST' || !req.url.startsWith('/v1/messages')) return json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not here' } });
  if (req.url.startsWith('/v1/messages/count_tokens')) return json(res, 200, { input_tokens: 12 });
  const request = JSON.parse(body || '{}');
  const message = { id: 'msg_fake', type: 'message', role: 'assistant', model: request.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } };
  const text = { type: 'text', text: REPLY };
  if (!request.stream) return json(res, 200, { ...message, content: [text], stop_reason: 'end_turn', usage: { input_tokens: 12, output_tokens: 8 } });
  sse(res, [
    ['message_start', { type: 'message_start', message }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', { type: 'ping' }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: REPLY } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 8 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);
}

function openai(req, res, body) {
  if (req.method === 'GET' && req.url.startsWith('/v1/models')) return json(res, 200, { object: 'list', data: [] });
  if (req.method !== 'POST' || !req.url.startsWith('/v1/responses')) return json(res, 404, { error: { message: 'not here', type: 'invalid_request_error' } });
  const request = JSON.parse(body || '{}');
  const item = { id: 'msg_fake', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: REPLY, annotations: [] }] };
  const usage = { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 8, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 20 };
  const response = { id: 'resp_fake', object: 'response', created_at: Math.floor(Date.now() / 1000), model: request.model, status: 'in_progress', output: [] };
  sse(res, [
    ['response.created', { type: 'response.created', sequence_number: 0, response }],
    ['response.in_progress', { type: 'response.in_progress', sequence_number: 1, response }],
    ['response.output_item.added', { type: 'response.output_item.added', sequence_number: 2, output_index: 0, item: { ...item, status: 'in_progress', content: [] } }],
    ['response.content_part.added', { type: 'response.content_part.added', sequence_number: 3, item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }],
    ['response.output_text.delta', { type: 'response.output_text.delta', sequence_number: 4, item_id: item.id, output_index: 0, content_index: 0, delta: REPLY }],
    ['response.output_text.done', { type: 'response.output_text.done', sequence_number: 5, item_id: item.id, output_index: 0, content_index: 0, text: REPLY }],
    ['response.content_part.done', { type: 'response.content_part.done', sequence_number: 6, item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] }],
    ['response.output_item.done', { type: 'response.output_item.done', sequence_number: 7, output_index: 0, item }],
    ['response.completed', { type: 'response.completed', sequence_number: 8, response: { ...response, status: 'completed', output: [item], usage } }],
  ]);
}

/** A value that fits a JSON schema (Gemini's or JSON Schema): the CLI asks for JSON to route and plan. */
function fitting(schema = {}) {
  const type = String(schema.type ?? 'string').toLowerCase();
  if (schema.enum) return schema.enum[0];
  if (type === 'object') return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, fitting(v)]));
  if (type === 'array') return [];
  if (type === 'integer' || type === 'number') return Math.max(10, schema.minimum ?? 0);
  if (type === 'boolean') return false;
  return 'fake';
}

function gemini(req, res, body) {
  const m = /^\/v1(?:beta|alpha)?\/models\/([^:/?]+):(\w+)/.exec(req.url);
  if (req.method !== 'POST' || !m) return json(res, 404, { error: { code: 404, message: 'not here', status: 'NOT_FOUND' } });
  const [, model, method] = m;
  if (method === 'countTokens') return json(res, 200, { totalTokens: 12 });
  const config = JSON.parse(body || '{}').generationConfig ?? {};
  const schema = config.responseJsonSchema ?? config.responseSchema;
  const text = config.responseMimeType === 'application/json' ? JSON.stringify(fitting(schema)) : REPLY;
  const chunk = {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 8, totalTokenCount: 20 },
    modelVersion: model,
  };
  if (method === 'streamGenerateContent') return sse(res, [[null, chunk]]);
  if (method === 'generateContent') return json(res, 200, chunk);
  return json(res, 404, { error: { code: 404, message: `no method ${method}`, status: 'NOT_FOUND' } });
}

/** git's smart HTTP protocol through git http-backend (CGI), for Basic credentials we expect only. */
function git(req, res, body) {
  if (!req.headers.authorization) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="fake github"' });
    return res.end('credentials wanted\n');
  }
  if (sha256(req.headers.authorization) !== process.env.GIT_AUTH_SHA256) {
    res.writeHead(403, { 'content-type': 'text/plain' });
    return res.end('wrong credentials\n');
  }
  const url = new URL(req.url, 'https://github.com');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: process.env.GIT_ROOT,
      GIT_HTTP_EXPORT_ALL: '1',
      REMOTE_USER: 'x-access-token',
      REQUEST_METHOD: req.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      CONTENT_LENGTH: String(body.length),
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
    },
  });
  const out = [];
  cgi.stdout.on('data', (c) => out.push(c));
  cgi.on('close', () => {
    const all = Buffer.concat(out);
    const split = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
    const gap = all[split] === 13 ? 4 : 2;
    let status = 200;
    const headers = {};
    for (const line of all.subarray(0, split).toString().split(/\r?\n/)) {
      const [name, ...rest] = line.split(':');
      if (name.toLowerCase() === 'status') status = Number.parseInt(rest.join(':'), 10);
      else if (name) headers[name] = rest.join(':').trim();
    }
    res.writeHead(status, headers);
    res.end(all.subarray(split + gap));
  });
  cgi.stdin.end(body);
}

const handlers = {
  'api.anthropic.com': anthropic,
  'api.openai.com': openai,
  'generativelanguage.googleapis.com': gemini,
  'github.com': git,
};

const context = (name) => createSecureContext(certs[name] ?? Object.values(certs)[0]);
createServer({ SNICallback: (name, cb) => cb(null, context(name)), ...Object.values(certs)[0] }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/__seen') return json(res, 200, seen);
    const raw = Buffer.concat(chunks);
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const gzipped = req.headers['content-encoding'] === 'gzip';
    record(req, gzipped ? '' : raw.toString());
    const handler = handlers[host];
    if (!handler) return json(res, 404, { error: `no fake for ${host}` });
    try {
      return handler === git ? git(req, res, raw) : handler(req, res, raw.toString());
    } catch (e) {
      // A request this fake does not understand is the test's news, not a reason to stop serving.
      return json(res, 500, { error: String(e) });
    }
  });
}).listen(443, '0.0.0.0');
