/**
 * Copying a remote command's output to ours with backpressure: pipe() pauses the source when
 * the destination is full, which pauses the socket, which holds back the server.
 */

/**
 * Copies `source` to `destination` without ending it, resolving when `source` ends. If the
 * destination cannot be written (the reader of `| head` went away), `onBroken` runs once, as
 * SIGPIPE would stop a local command, and the rest of the source is drained unseen.
 */
export function relay(source: NodeJS.ReadableStream, destination: NodeJS.WritableStream, onBroken: (err: NodeJS.ErrnoException) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let broken = false;
    // Not once: every later write (the final flush too) fails the same way.
    destination.on('error', (err: NodeJS.ErrnoException) => {
      if (broken) return;
      broken = true;
      source.unpipe(destination);
      source.resume();
      onBroken(err);
    });
    source.pipe(destination, { end: false });
    source.once('end', resolve);
  });
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
export function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => stream.write('', () => resolve()));
}
