// Twenty sandboxes created at once all work, and each sees only its own files and processes.
import { describe, expect, it } from 'vitest';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { hostState } from '../support/host-state.js';

const COUNT = 20;
const burrow = useInstance();
const names = Array.from({ length: COUNT }, (_, i) => sandboxName(`many-${i}`));

describe(`${COUNT} sandboxes created concurrently`, () => {
  it('are all created and running', async () => {
    const client = burrow.client();
    const created = await Promise.all(names.map((name) => client.createSandbox(name)));
    expect(created.map((s) => s.info?.status)).toEqual(names.map(() => 'running'));
    expect(new Set(created.map((s) => s.info?.id)).size).toBe(COUNT);
  });

  it('each write a secret that no other can see', async () => {
    const client = burrow.client();
    await Promise.all(
      names.map((name) => client.sandbox(name).exec('sh', ['-c', `echo ${name} > ~/secret && sleep 600 >/dev/null 2>&1 &`])),
    );
    const seen = await Promise.all(
      names.map((name) => client.sandbox(name).exec('sh', ['-c', 'cat ~/secret; ls /home; pgrep -c -x sleep || true'])),
    );
    seen.forEach((r, i) => {
      // Its own file only, and only its own background sleep.
      expect(r.stdout).toBe(`${names[i]}\nuser\n1\n`);
    });
  });

  it('are all destroyed, five at a time, without leftovers', async () => {
    // A gVisor sandbox on the ptrace platform takes about 2 s of CPU to die; 2 cores bound this.
    const client = burrow.client();
    for (let i = 0; i < names.length; i += 5) {
      await Promise.all(names.slice(i, i + 5).map((name) => client.deleteSandbox(name)));
    }
    expect(hostState(burrow.config)).toEqual({ mounts: [], subvolumes: [], snapshots: [], netns: [], containers: [], rows: [], cgroups: [], links: [], rules: [], addresses: [] });
  });
});
