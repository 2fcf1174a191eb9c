// The entrypoint of an exported image: a small init that runs the sandbox's services the way
// burrow supervises them (in `needs` order, each restarted when it exits, with burrow's backoff),
// so that `docker run -p 8080:8080 app` serves what the sandbox URL served. The services travel
// as data (NUL-separated argv and environment files), never as shell text: the init reads them
// with `mapfile -d ''`, so no name, argument or value is ever parsed by a shell.
import type { GeneratedFile } from './layers.js';

export const INIT_DIR = '/usr/local/lib/burrow-init';
export const INIT = `${INIT_DIR}/init`;

/** What the init needs of one service, in the order the services start. */
export interface InitService {
  name: string;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  dir: string;
}

const SCRIPT = `#!/bin/bash
# Runs the services this image was exported with, as burrow ran them in the sandbox: one after
# the other in the order of their needs, each started again when it exits (after 1 s, doubling
# up to 60 s; back to 1 s once it ran 30 s). Arguments, when given, run instead of the services.
set -u
services=${INIT_DIR}/services
if [ $# -gt 0 ]; then exec "$@"; fi
shopt -s nullglob
entries=("$services"/*/)
if [ \${#entries[@]} -eq 0 ]; then exec /bin/bash -l; fi

supervise() {
  local svc=$1 name workdir delay=1 started status child
  local -a argv env
  name=$(<"$svc/name")
  workdir=$(<"$svc/dir")
  mapfile -d '' -t argv <"$svc/argv"
  mapfile -d '' -t env <"$svc/env"
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
  while :; do
    started=$SECONDS
    (cd "$workdir" && exec env -- "\${env[@]}" "\${argv[@]}") &
    child=$!
    wait "$child"
    status=$?
    if (( SECONDS - started >= 30 )); then delay=1; fi
    echo "burrow-init: service $name exited with status $status; starting it again in \${delay}s" >&2
    sleep "$delay" &
    wait $!
    delay=$(( delay * 2 > 60 ? 60 : delay * 2 ))
  done
}

pids=()
stop() {
  trap - TERM INT
  kill -TERM "\${pids[@]}" 2>/dev/null
  wait
  exit 0
}
trap stop TERM INT
for svc in "\${entries[@]}"; do
  supervise "\${svc%/}" &
  pids+=($!)
done
wait
`;

/** The init and one directory per service (`01`, `02`, ... in start order). */
export function initFiles(services: InitService[]): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { path: INIT_DIR, type: 'dir', mode: 0o755 },
    { path: INIT, type: 'file', mode: 0o755, content: Buffer.from(SCRIPT) },
    { path: `${INIT_DIR}/services`, type: 'dir', mode: 0o755 },
  ];
  services.forEach((s, i) => {
    const dir = `${INIT_DIR}/services/${String(i + 1).padStart(2, '0')}`;
    const env = Object.keys(s.env)
      .sort()
      .map((k) => `${k}=${s.env[k]}`);
    files.push(
      { path: dir, type: 'dir', mode: 0o755 },
      { path: `${dir}/name`, type: 'file', mode: 0o644, content: Buffer.from(s.name) },
      { path: `${dir}/dir`, type: 'file', mode: 0o644, content: Buffer.from(s.dir) },
      { path: `${dir}/argv`, type: 'file', mode: 0o644, content: nulSeparated([s.cmd, ...s.args]) },
      { path: `${dir}/env`, type: 'file', mode: 0o644, content: nulSeparated(env) },
    );
  });
  return files;
}

function nulSeparated(items: string[]): Buffer {
  return Buffer.concat(items.map((item) => Buffer.from(`${item}\0`)));
}
