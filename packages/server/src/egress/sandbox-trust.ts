// What every sandbox gets so that it trusts the egress proxy's certificates, without rebuilding
// images: at boot, the image's CA bundle plus burrow's CA is bound over the system bundle, the
// CA alone and the placeholder tool appear under /.burrow/egress, and the environment points
// the usual variables at them.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
export const EGRESS_INSIDE = '/.burrow/egress';
export const CA_INSIDE = `${EGRESS_INSIDE}/ca.crt`;
const TOOL = fileURLToPath(new URL('../../sandbox-tools/burrow-placeholder.py', import.meta.url));

export class SandboxTrust {
  private readonly insideDir: string;
  private readonly bundlesDir: string;
  /** One bundle per image, made once even when many sandboxes boot at the same moment. */
  private readonly bundles = new Map<string, Promise<string>>();

  constructor(
    dir: string,
    private readonly caPem: string,
  ) {
    this.insideDir = join(dir, 'inside');
    this.bundlesDir = join(dir, 'bundles');
  }

  /** Writes the files every sandbox shares (the CA, the placeholder tool). */
  async prepare(): Promise<void> {
    await mkdir(this.insideDir, { recursive: true, mode: 0o755 });
    await mkdir(this.bundlesDir, { recursive: true, mode: 0o755 });
    await writeAtomically(join(this.insideDir, 'ca.crt'), this.caPem, 0o644);
    await writeAtomically(join(this.insideDir, 'burrow-placeholder'), await readFile(TOOL, 'utf8'), 0o755);
  }

  /** Read-only bind mounts for a sandbox on `imagePath`, keyed by path inside. */
  async mounts(imagePath: string): Promise<Record<string, string>> {
    let bundle = this.bundles.get(imagePath);
    if (!bundle) {
      bundle = this.bundleFor(imagePath);
      this.bundles.set(imagePath, bundle);
      bundle.catch(() => this.bundles.delete(imagePath));
    }
    return { [SYSTEM_BUNDLE]: await bundle, [EGRESS_INSIDE]: this.insideDir };
  }

  environment(): Record<string, string> {
    return {
      SSL_CERT_FILE: SYSTEM_BUNDLE,
      REQUESTS_CA_BUNDLE: SYSTEM_BUNDLE,
      NODE_EXTRA_CA_CERTS: CA_INSIDE,
    };
  }

  /** The image's bundle (a burrow-built image, never a sandbox's disk) with the CA appended. */
  private async bundleFor(imagePath: string): Promise<string> {
    const system = join(imagePath, SYSTEM_BUNDLE);
    const isFile = await lstat(system).then((s) => s.isFile(), () => false);
    const base = isFile ? await readFile(system, 'utf8') : '';
    const bundle = `${base.trimEnd()}\n# burrow egress CA\n${this.caPem.trim()}\n`;
    const file = join(this.bundlesDir, `${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}.crt`);
    if (!(await lstat(file).then(() => true, () => false))) await writeAtomically(file, bundle, 0o644);
    return file;
  }
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}
