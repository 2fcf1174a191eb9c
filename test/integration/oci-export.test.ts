// A sandbox exported as an OCI image, end to end: an app built inside a real runc sandbox (a
// service with an http_port) is exported through the CLI, read by skopeo and umoci, unpacked and
// run by runc outside burrow in a network namespace of the test's own, where its page is fetched.
// Deleted files are absent from the image, the same checkpoint exports to the same bytes, a
// second sandbox of the image shares the base layer, and hostile contents (symlinks out of the
// sandbox, a huge sparse file, names with newlines) make export read nothing outside it. The
// export imports back as a sandbox that reports its image and serves its services at its own URL;
// archives of other tools (umoci from a directory, skopeo's docker-archive, zstd layers) import
// too; archives for another architecture, without a user, or with names that climb out or go
// through symlinks are refused with nothing made. A granted secret is named, never exported.
import { execFile, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { RUN_ID, sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const run = promisify(execFile);
// The minimal image keeps the base layer (built once per machine) and umoci's unpack small.
const burrow = useInstance({ BURROW_WARM_AFTER: 'off', BURROW_IMAGE: 'minimal' });
const work = `/tmp/burrow-oci-${RUN_ID}`;
const name = sandboxName('oci');
const second = sandboxName('oci-2');
const imported = sandboxName('oci-in');
const importedApp = sandboxName('oci-app');
const foreign = sandboxName('oci-umoci');
const fromDocker = sandboxName('oci-docker');
const fromZstd = sandboxName('oci-zstd');
const refused = sandboxName('oci-bad');
const archive = join(work, 'app.tar');
const netns = `burrow-oci-${RUN_ID}`;
const container = `burrow-oci-${RUN_ID}`;
/** A file only the host has: no export may ever carry its content. */
const hostSecret = join(work, 'host-secret');
const secretText = `host-only-${randomBytes(8).toString('hex')}`;
let client: BurrowClient;
let sandbox: Sandbox;
let exportStderr = '';
/** A secret the app uses through burrow: the export names it and carries neither it nor its placeholder. */
const apiKey = { name: 'oci-api-key', env: 'API_KEY', value: `sk-${randomBytes(12).toString('hex')}` };
let placeholder = '';

async function sh(target: Sandbox, script: string): Promise<string> {
  const r = await target.exec('sh', ['-c', script]);
  if (r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** A page of a sandbox's URL (`NAME.localhost`), which forwards to the service with http_port. */
function viaUrl(sandboxName: string): Promise<string> {
  const { port } = new URL(burrow.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: `${sandboxName}.localhost:${port}`, Authorization: `Bearer ${burrow.token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

async function manifestDigestOf(archivePath: string, ref = ''): Promise<string> {
  return (JSON.parse((await run('skopeo', ['inspect', `oci-archive:${archivePath}${ref}`])).stdout) as { Digest: string }).Digest;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  await mkdir(work, { recursive: true });
  await writeFile(hostSecret, secretText);
  client = burrow.client();
  sandbox = await client.createSandbox(name, { runtime: 'runc' });
  await client.addSecret(apiKey.name, { hosts: ['api.example.test'], inject: 'Authorization: Bearer {}', value: apiKey.value });
  placeholder = (await client.grantSecret(apiKey.name, name, { env: apiKey.env })).placeholder;
  await sh(
    sandbox,
    [
      'mkdir -p ~/app ~/app/sub',
      'echo "<h1>hello from the sandbox</h1>" > ~/app/index.html',
      'echo linked > ~/app/a && ln ~/app/a ~/app/b',
      `ln -s ${hostSecret} ~/app/host-secret-link`,
      'ln -s / ~/app/root-link',
      'ln -s ../../../../../etc/shadow ~/app/climb',
      'printf x > ~/app/"$(printf \'new\\nline\')"',
      'truncate -s 200G ~/app/huge-sparse',
      'python3 -c "import os; os.setxattr(os.path.expanduser(\'~/app/index.html\'), \'user.note\', b\'kept\')"',
      'sudo rm /etc/issue',
      'sudo rm -rf /usr/share/doc && sudo mkdir /usr/share/doc && echo new | sudo tee /usr/share/doc/only > /dev/null',
    ].join(' && '),
  );
  await sandbox.services.put('web', { cmd: 'python3', args: ['-m', 'http.server', '8080', '--directory', '/home/user/app'], http_port: 8080 });
  await until('the app to answer inside', async () => (await sandbox.exec('curl', ['-fsS', 'http://127.0.0.1:8080/'])).stdout, {
    accept: (page) => page.includes('hello from the sandbox'),
  });
  const exported = await burrow.cli(['export', name, '-o', archive, '--tag', 'app:1']);
  exportStderr = exported.stderr;
  if (exported.code !== 0) throw new Error(`burrow export failed: ${exported.stderr}`);
  // The first export on a machine builds the image's base layer (once).
}, 900_000);

afterAll(async () => {
  await run('runc', ['delete', '--force', container]).catch(() => {});
  await run('ip', ['netns', 'delete', netns]).catch(() => {});
  await rm(work, { recursive: true, force: true });
});

describe('burrow export', () => {
  it('writes an OCI archive skopeo reads: amd64, the user, /home/user, the service port, three layers', async () => {
    expect(exportStderr).toMatch(/exported .*@auto-\d+/);
    const { stdout } = await run('skopeo', ['inspect', '--config', `oci-archive:${archive}`]);
    const config = JSON.parse(stdout) as {
      architecture: string;
      os: string;
      config: { User: string; WorkingDir: string; ExposedPorts: Record<string, object>; Entrypoint: string[]; Env: string[] };
      rootfs: { diff_ids: string[] };
    };
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', config: { User: 'user', WorkingDir: '/home/user', ExposedPorts: { '8080/tcp': {} } } });
    expect(config.config.Env).toContain('HOME=/home/user');
    expect(config.rootfs.diff_ids).toHaveLength(3);
    const manifest = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${archive}`])).stdout) as { Layers: string[] };
    expect(manifest.Layers).toHaveLength(3);
  });

  it('unpacks with umoci into the sandbox as it was: changes, deletions, links, ids, and nothing of burrow', async () => {
    const layout = join(work, 'layout');
    await mkdir(layout, { recursive: true });
    await run('tar', ['-xf', archive, '-C', layout]);
    await run('umoci', ['unpack', '--image', `${layout}:1`, join(work, 'bundle')]);
    const rootfs = join(work, 'bundle', 'rootfs');
    const home = join(rootfs, 'home/user/app');
    expect(await readFile(join(home, 'index.html'), 'utf8')).toBe('<h1>hello from the sandbox</h1>\n');
    const app = await stat(home);
    expect([app.uid, app.gid]).toEqual([1000, 1000]); // the sandbox's ids, not its host range
    const [a, b] = [await stat(join(home, 'a')), await stat(join(home, 'b'))];
    expect(a.ino).toBe(b.ino);
    expect(await readFile(join(home, 'new\nline'), 'utf8')).toBe('x');
    expect(await readlink(join(home, 'root-link'))).toBe('/');
    expect(await readlink(join(home, 'host-secret-link'))).toBe(hostSecret);
    const xattr = await run('python3', ['-c', 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.note").decode())', join(home, 'index.html')]);
    expect(xattr.stdout).toBe('kept');
    // Deleted inside: absent; a directory deleted and made again holds only its new content.
    await expect(lstat(join(rootfs, 'etc/issue'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(rootfs, 'usr/share/doc/only'))).resolves.toBeTruthy();
    await expect(lstat(join(rootfs, 'usr/share/doc/sudo'))).rejects.toThrow(/ENOENT/);
    // burrow's own files and mounts stay behind.
    for (const path of ['usr/local/sbin/burrow-agent', 'usr/local/bin/sudo', 'etc/ld.so.preload', '.burrow', 'usr/local/lib/burrow']) {
      await expect(lstat(join(rootfs, path)), path).rejects.toThrow(/ENOENT/);
    }
    await expect(lstat(join(rootfs, 'usr/bin/sudo'))).resolves.toBeTruthy();
  }, 300_000); // umoci unpacks the whole image

  it('leaves out a sparse file larger than the sandbox may store, and says so', async () => {
    expect(exportStderr).toContain('huge-sparse');
    await expect(lstat(join(work, 'bundle/rootfs/home/user/app/huge-sparse'))).rejects.toThrow(/ENOENT/);
  });

  it('never carries what a symlink inside points to on the host', async () => {
    const bytes = await readFile(archive);
    expect(bytes.includes(Buffer.from(secretText))).toBe(false);
    const shadow = await readFile('/etc/shadow');
    expect(bytes.includes(shadow)).toBe(false);
  });

  it('names the granted secret the app will need, and carries neither its value nor its placeholder', async () => {
    expect(exportStderr).toMatch(new RegExp(`warning: the image holds no secrets.*\\n\\s+${apiKey.name} \\(as \\$${apiKey.env}\\)`, 's'));
    const checkpoint = /@(auto-\d+)/.exec(exportStderr)![1]!;
    const viaSdk = await sandbox.export({ checkpoint });
    expect(viaSdk.notes.secrets).toEqual([{ secret: apiKey.name, env: apiKey.env }]);
    viaSdk.stream.destroy();
    const bytes = await readFile(archive);
    expect(placeholder).not.toBe('');
    for (const needle of [apiKey.value, placeholder]) expect(bytes.includes(Buffer.from(needle))).toBe(false);
  });

  it('runs under runc outside burrow and serves the page the sandbox served', async () => {
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const configPath = join(work, 'bundle', 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as {
      process: { terminal: boolean; args: string[]; user: { uid: number } };
      linux: { namespaces: Array<{ type: string; path?: string }> };
    };
    expect(config.process.args[0]).toBe('/usr/local/lib/burrow-init/init');
    expect(config.process.user.uid).toBe(1000);
    config.process.terminal = false;
    config.linux.namespaces = config.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/run/netns/${netns}` } : ns));
    await writeFile(configPath, JSON.stringify(config));
    const child = spawn('runc', ['run', '--bundle', join(work, 'bundle'), container], { stdio: ['ignore', 'ignore', 'pipe'] });
    let runcStderr = '';
    child.stderr.on('data', (chunk: Buffer) => (runcStderr += chunk.toString()));
    // Taken at once: a runc that fails at start has exited before the test would wait for it.
    const exited = new Promise((resolve) => child.once('close', resolve));
    try {
      const page = await until(
        'the exported app to answer',
        async () => {
          if (child.exitCode !== null) throw new Error(`runc run exited ${child.exitCode}: ${runcStderr}`);
          return (await run('ip', ['netns', 'exec', netns, 'curl', '-sS', '--max-time', '2', 'http://127.0.0.1:8080/']).catch(() => ({ stdout: '' }))).stdout;
        },
        { accept: (p) => p.includes('hello from the sandbox'), timeoutMs: 60_000 },
      );
      expect(page).toContain('hello from the sandbox');
      // Restarted on crash, as burrow restarts services.
      await run('runc', ['exec', container, 'pkill', '-f', 'http.server']);
      await until(
        'the app to answer again after its crash',
        async () => (await run('ip', ['netns', 'exec', netns, 'curl', '-sS', '--max-time', '2', 'http://127.0.0.1:8080/']).catch(() => ({ stdout: '' }))).stdout,
        { accept: (p) => p.includes('hello from the sandbox'), timeoutMs: 60_000 },
      );
    } finally {
      await run('runc', ['kill', container, 'KILL']).catch(() => {});
      await exited;
      await run('runc', ['delete', '--force', container]).catch(() => {});
    }
  }, 180_000);

  it('exports the same checkpoint to the same bytes', async () => {
    const checkpoint = /@(auto-\d+)/.exec(exportStderr)![1]!;
    const again = join(work, 'again.tar');
    const result = await burrow.cli(['export', `${name}@${checkpoint}`, '-o', again, '--tag', 'app:1']);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha256(again)).toBe(await sha256(archive));
    const viaSdk = await sandbox.export({ checkpoint, tag: 'app:1' });
    const hash = createHash('sha256');
    for await (const chunk of viaSdk.stream) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(await sha256(archive));
    expect(viaSdk.baseLayerCached).toBe(true);
  }, 300_000);

  it('gives a second sandbox of the image the same base layer, from the cache', async () => {
    const other = await client.createSandbox(second, { runtime: 'runc' });
    const exported = await other.export();
    const hash = createHash('sha256');
    for await (const chunk of exported.stream) hash.update(chunk as Buffer);
    expect(exported.baseLayerCached).toBe(true);
    const first = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${archive}`])).stdout) as { Layers: string[] };
    const otherArchive = join(work, 'other.tar');
    const result = await burrow.cli(['export', second, '-o', otherArchive]);
    expect(result.code, result.stderr).toBe(0);
    const theirs = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${otherArchive}`])).stdout) as { Layers: string[] };
    expect(theirs.Layers[0]).toBe(first.Layers[0]);
    expect(theirs.Layers[1]).not.toBe(first.Layers[1]);
    await other.delete();
  }, 300_000);

  it('answers 404 for a checkpoint the sandbox does not have, and 400 for a bad format', async () => {
    const missing = await burrow.call('GET', `/v1/sprites/${name}/export?checkpoint=v99`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'checkpoint_not_found' });
    const bad = await burrow.call('GET', `/v1/sprites/${name}/export?format=zip`);
    expect(bad.status).toBe(400);
    expect(bad.body).toHaveProperty('error');
  });
});

/**
 * An OCI archive of one layer per script: each script (Python, argv[1] the output file) writes
 * a layer tar with tarfile, so entries no directory could hold (a symlink, then a file below it)
 * can be made.
 */
async function craftArchive(label: string, architecture: string, layerScripts: string[], labels: Record<string, string> = {}): Promise<string> {
  const layout = join(work, `craft-${label}`);
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const blob = async (bytes: Buffer) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(layout, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layers = [];
  for (const [i, script] of layerScripts.entries()) {
    const file = join(work, `craft-${label}-${i}.tar`);
    await run('python3', ['-c', script, file]);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await blob(await readFile(file))) });
  }
  const config = await blob(Buffer.from(JSON.stringify({ architecture, os: 'linux', config: { Env: ['GREETING=hi'], Labels: labels }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })));
  const manifest = await blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })),
  );
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  const out = join(work, `craft-${label}.tar`);
  await run('tar', ['-cf', out, '-C', layout, '.']);
  return out;
}

/** A layer with a shell and a `user` account, as a tarfile script. */
const USABLE = String.raw`
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w')
def add(name, data=b'', mode=0o644, kind=tarfile.REGTYPE, link=''):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = mode; i.linkname = link; i.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add('bin', kind=tarfile.DIRTYPE, mode=0o755)
add('bin/sh', open('/bin/dash', 'rb').read(), 0o755)
add('etc', kind=tarfile.DIRTYPE, mode=0o755)
add('etc/passwd', b'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n')
`;

describe('burrow import', () => {
  it('makes a sandbox of an exported image: its files, its deletions, its user', async () => {
    const result = await burrow.cli(['import', archive, imported, '--runtime', 'runc']);
    expect(result.code, result.stderr).toBe(0);
    const back = client.sandbox(imported);
    expect(await sh(back, 'cat ~/app/index.html')).toBe('<h1>hello from the sandbox</h1>\n');
    expect(await sh(back, 'id -un; test -e /etc/issue && echo issue || echo no-issue')).toBe('user\nno-issue\n');
    expect(await sh(back, 'stat -c %U:%G ~/app')).toBe('user:user\n');
    // It stands on the imported image, and says so.
    expect((await back.refresh()).image).toBe(`oci-${(await manifestDigestOf(archive)).slice('sha256:'.length, 'sha256:'.length + 12)}`);
    await back.delete();
  }, 600_000);

  it("makes the exported sandbox's services again, serving the app at the new sandbox's URL", async () => {
    const result = await burrow.cli(['import', archive, importedApp, '--runtime', 'runc']);
    expect(result.code, result.stderr).toBe(0);
    const services = await client.sandbox(importedApp).services.list();
    expect(services.map((s) => ({ name: s.name, cmd: s.cmd, args: s.args, http_port: s.http_port, needs: s.needs }))).toEqual([
      { name: 'web', cmd: 'python3', args: ['-m', 'http.server', '8080', '--directory', '/home/user/app'], http_port: 8080, needs: [] },
    ]);
    const page = await until('the imported app to answer at its URL', () => viaUrl(importedApp), { accept: (p) => p.includes('hello from the sandbox'), timeoutMs: 60_000 });
    expect(page).toMatch(/^200 /);
    await client.sandbox(importedApp).delete();
  }, 600_000);

  it('gives the services with the sandbox: a daemon dying right after the import made it loses none', async () => {
    const crashed = sandboxName('oci-crash');
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'import:created' });
    const result = await burrow.cli(['import', archive, crashed, '--runtime', 'runc']);
    expect(result.code).not.toBe(0);
    await burrow.exited();
    await burrow.start();
    client = burrow.client();
    expect((await client.sandbox(crashed).services.list()).map((s) => s.name)).toEqual(['web']);
    const page = await until('the app to answer at its URL after the restart', () => viaUrl(crashed), { accept: (p) => p.includes('hello from the sandbox'), timeoutMs: 60_000 });
    expect(page).toMatch(/^200 /);
    await client.sandbox(crashed).delete();
  }, 600_000);

  it('refuses an image for another architecture, or without a `user`, with a 400 and nothing made', async () => {
    const before = await burrow.call('GET', '/v1/sprites');
    const arm = await craftArchive('arm', 'arm64', [`${USABLE}\nt.close()`]);
    const armResult = await burrow.cli(['import', arm, refused]);
    expect(armResult.code).not.toBe(0);
    expect(armResult.stderr).toContain('linux/arm64');
    const nobody = await craftArchive('nobody', 'amd64', [`${USABLE.replace('user:x:1000', 'someone:x:1000')}\nt.close()`]);
    const nobodyResult = await burrow.cli(['import', nobody, refused]);
    expect(nobodyResult.code).not.toBe(0);
    expect(nobodyResult.stderr).toContain('`user`');
    const response = await fetch(`${burrow.url}/v1/sprites/${refused}/import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${burrow.token}`, 'Content-Type': 'application/x-tar' },
      body: await readFile(nobody),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_image' });
    expect((await burrow.call('GET', `/v1/sprites/${refused}`)).status).toBe(404);
    expect((await burrow.call('GET', '/v1/sprites')).body.sprites).toEqual(before.body.sprites);
  }, 300_000);

  it('refuses a services label that does not describe services, with a 400 and nothing made', async () => {
    const hostile = await craftArchive('label', 'amd64', [`${USABLE}\nt.close()`], { 'dev.burrow.services': JSON.stringify([{ name: '../../etc', cmd: 'sh' }]) });
    const response = await fetch(`${burrow.url}/v1/sprites/${refused}/import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${burrow.token}`, 'Content-Type': 'application/x-tar' },
      body: await readFile(hostile),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_image', message: expect.stringContaining('dev.burrow.services') });
    expect((await burrow.call('GET', `/v1/sprites/${refused}`)).status).toBe(404);
  }, 300_000);

  it('refuses a layer that writes through its own symlink or climbs out, writing nothing on the host', async () => {
    const outside = join(work, 'outside');
    await mkdir(outside, { recursive: true });
    const through = await craftArchive('through', 'amd64', [
      `${USABLE}\nadd('evil', kind=tarfile.SYMTYPE, link='${outside}')\nadd('evil/pwned', b'x')\nt.close()`,
    ]);
    const throughResult = await burrow.cli(['import', through, refused]);
    expect(throughResult.code).not.toBe(0);
    expect(throughResult.stderr).toContain('symlink');
    const climb = await craftArchive('climb', 'amd64', [`${USABLE}\nadd('../../../../${outside.slice(1)}/pwned', b'x')\nt.close()`]);
    const climbResult = await burrow.cli(['import', climb, refused]);
    expect(climbResult.code).not.toBe(0);
    expect(climbResult.stderr).toContain('climbs out');
    await expect(lstat(join(outside, 'pwned'))).rejects.toThrow(/ENOENT/);
    expect((await burrow.call('GET', `/v1/sprites/${refused}`)).status).toBe(404);
    const images = join(burrow.config.pool.mountpoint, 'images');
    expect((await run('ls', ['-A', images])).stdout.split('\n').filter((e) => e.startsWith('.partial'))).toEqual([]);
  }, 300_000);
});

/**
 * A root file system no burrow made: a static busybox (its httpd serves /www on port 8000), with
 * what burrow's agent and service wrapper run (bash, setpriv, coreutils, their libraries) copied
 * from the host, a `user` account, and a page. $1 is the directory.
 */
const FOREIGN_ROOTFS = String.raw`
set -eu
root=$1
mkdir -p "$root"/bin "$root"/etc "$root"/www "$root"/home/user "$root"/tmp "$root"/lib64
cp /bin/busybox "$root"/bin/busybox
ln -s busybox "$root"/bin/sh
for program in bash setpriv tee stat mkdir dirname; do
  path=$(command -v "$program")
  cp "$path" "$root"/bin/
  for lib in $(ldd "$path" | awk '/=> \//{print $3}'); do mkdir -p "$root$(dirname "$lib")"; cp -n "$lib" "$root$lib"; done
done
cp /lib64/ld-linux-x86-64.so.2 "$root"/lib64/
printf 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' > "$root"/etc/passwd
printf 'root:x:0:\nuser:x:1000:\n' > "$root"/etc/group
chown 1000:1000 "$root"/home/user
chmod 1777 "$root"/tmp
echo '<p>served by busybox</p>' > "$root"/www/index.html
`;

describe('archives of other tools', () => {
  const umociArchive = join(work, 'umoci.tar');
  const dockerArchive = join(work, 'docker-save.tar');
  const zstdArchive = join(work, 'zstd.tar');

  beforeAll(async () => {
    const rootfs = join(work, 'foreign-rootfs');
    const layout = join(work, 'foreign-layout');
    await run('bash', ['-c', FOREIGN_ROOTFS, 'foreign-rootfs', rootfs]);
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:app`]);
    await run('umoci', ['insert', '--image', `${layout}:app`, rootfs, '/']);
    const cmd = ['httpd', '-f', '-p', '8000', '-h', '/www'].flatMap((a) => ['--config.cmd', a]);
    await run('umoci', ['config', '--image', `${layout}:app`, '--architecture', 'amd64', '--os', 'linux', '--config.entrypoint', '/bin/busybox', ...cmd, '--config.exposedports', '8000/tcp', '--config.workingdir', '/www']);
    await run('tar', ['-cf', umociArchive, '-C', layout, '.']);
    await run('skopeo', ['copy', `oci-archive:${umociArchive}:app`, `docker-archive:${dockerArchive}:app:1`]);
    await run('skopeo', ['copy', '--dest-compress-format', 'zstd', `oci-archive:${umociArchive}:app`, `oci-archive:${zstdArchive}:app`]);
  }, 300_000);

  it('imports a one-layer OCI archive umoci made from a directory, and serves its entrypoint at the sandbox URL', async () => {
    const manifest = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${umociArchive}:app`])).stdout) as { layers: unknown[] };
    expect(manifest.layers).toHaveLength(1);
    const result = await burrow.cli(['import', umociArchive, foreign, '--runtime', 'runc']);
    expect(result.code, result.stderr).toBe(0);
    const back = client.sandbox(foreign);
    expect((await back.refresh()).image).toBe(`oci-${(await manifestDigestOf(umociArchive, ':app')).slice(7, 19)}`);
    const services = await back.services.list();
    expect(services.map((s) => ({ name: s.name, cmd: s.cmd, args: s.args, http_port: s.http_port, dir: s.dir }))).toEqual([
      { name: 'app', cmd: '/bin/busybox', args: ['httpd', '-f', '-p', '8000', '-h', '/www'], http_port: 8000, dir: '/www' },
    ]);
    const page = await until('the image entrypoint to answer at the sandbox URL', () => viaUrl(foreign), { accept: (p) => p.includes('served by busybox'), timeoutMs: 60_000 });
    expect(page).toMatch(/^200 /);
    await back.delete();
  }, 300_000);

  it('imports a docker-archive (the `docker save` format) that skopeo wrote', async () => {
    const listing = (await run('tar', ['-tf', dockerArchive])).stdout.split('\n');
    expect(listing).toContain('manifest.json');
    expect(listing).not.toContain('index.json');
    const result = await burrow.cli(['import', dockerArchive, fromDocker, '--runtime', 'runc']);
    expect(result.code, result.stderr).toBe(0);
    const back = client.sandbox(fromDocker);
    expect((await back.exec('/bin/busybox', ['cat', '/www/index.html'])).stdout).toBe('<p>served by busybox</p>\n');
    expect((await back.refresh()).image).toMatch(/^oci-[0-9a-f]{12}$/);
    await back.delete();
  }, 300_000);

  it('imports an image whose layer is zstd-compressed', async () => {
    const manifest = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${zstdArchive}:app`])).stdout) as { layers: Array<{ mediaType: string }> };
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+zstd']);
    const result = await burrow.cli(['import', zstdArchive, fromZstd, '--runtime', 'runc']);
    expect(result.code, result.stderr).toBe(0);
    const back = client.sandbox(fromZstd);
    expect((await back.exec('/bin/busybox', ['cat', '/www/index.html'])).stdout).toBe('<p>served by busybox</p>\n');
    await back.delete();
  }, 300_000);
});
