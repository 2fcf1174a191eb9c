// Newline-delimited JSON responses (spec section 0): one object per line, flushed at once.
import type { ServerResponse } from 'node:http';

export class NdjsonStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache', 'Sprite-Version': '1.0.0' });
  }

  send(event: object): void {
    this.res.write(`${JSON.stringify(event)}\n`);
  }

  end(event?: object): void {
    if (event) this.send(event);
    this.res.end();
  }
}
