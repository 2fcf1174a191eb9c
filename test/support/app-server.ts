// A small web app to run inside a sandbox (node is in the dev image): a page, a slow stream, an
// upload echo and a WebSocket echo written out by hand (the image has no npm modules), bound to
// 127.0.0.1 only, as development servers often are. The page and the WebSocket's answer
// (X-Seen-Authorization, X-Seen-Cookie) say which Authorization and Cookie the app received.
export const APP_SERVER = String.raw`
const http = require('http'), crypto = require('crypto');
const port = Number(process.env.PORT || 8080);
const server = http.createServer((req, res) => {
  if (req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first\n');
    setTimeout(() => res.end('last\n'), 1500);
  } else if (req.url === '/echo') {
    req.pipe(res);
  } else {
    res.end('page of ' + require('os').hostname() + ' auth=' + (req.headers.authorization || '-') + ' cookie=' + (req.headers.cookie || '-') + '\n');
  }
});
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  const seen = (name) => encodeURIComponent(req.headers[name] || '-');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept +
    '\r\nX-Seen-Authorization: ' + seen('authorization') + '\r\nX-Seen-Cookie: ' + seen('cookie') + '\r\n\r\n');
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6) {
      const len = buf[1] & 127; // short frames only
      if (buf.length < 6 + len) break;
      const mask = buf.subarray(2, 6);
      const payload = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]));
      if ((buf[0] & 15) === 8) { socket.end(); return; }
      const text = Buffer.from('echo:' + payload.toString());
      socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
      buf = buf.subarray(6 + len);
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log('listening'));
`;
