// A bounded buffer of a session's most recent output, replayed to clients that attach later.
// Chunks keep their stream id so a non-TTY replay is framed exactly like live output.
export interface OutputChunk {
  stream: 1 | 2;
  data: Buffer;
}

export class Scrollback {
  private chunks: OutputChunk[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: OutputChunk): void {
    this.chunks.push(chunk);
    this.size += chunk.data.length;
    while (this.size > this.limit && this.chunks.length) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      if (first.data.length <= excess) {
        this.chunks.shift();
        this.size -= first.data.length;
      } else {
        // Keep the newest bytes of a chunk that straddles the limit.
        this.chunks[0] = { stream: first.stream, data: first.data.subarray(excess) };
        this.size -= excess;
      }
    }
  }

  snapshot(): OutputChunk[] {
    return [...this.chunks];
  }

  get bytes(): number {
    return this.size;
  }
}
