// What goes into each image. The recipe's hash names the built image, so changing a recipe
// builds a new image next to the old one instead of changing disks that sandboxes stand on.
import { createHash } from 'node:crypto';
import type { ImageName } from '../config.js';

export interface ImageRecipe {
  name: ImageName;
  suite: string;
  packages: string[];
  /** Run inside the image root (via chroot) after packages are installed, as argv arrays. */
  setup: string[][];
}

const MINIMAL_PACKAGES = [
  'ca-certificates', 'curl', 'git', 'python3', 'sudo', 'procps', 'iproute2', 'util-linux',
  // PID 1 of every sandbox: keeps it up with no user process and reaps orphaned zombies.
  'tini',
];

const DEV_PACKAGES = [
  'build-essential', 'nodejs', 'npm', 'tmux', 'jq', 'ripgrep', 'vim-tiny', 'less',
  'openssh-client', 'unzip', 'xz-utils', 'python3-venv', 'python3-pip',
];

const USER_SETUP: string[][] = [
  ['useradd', '--create-home', '--uid', '1000', '--user-group', '--shell', '/bin/bash', 'user'],
  ['sh', '-c', 'echo "user ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/user && chmod 0440 /etc/sudoers.d/user'],
  ['mkdir', '-p', '/.burrow'],
];

export const RECIPES: Record<ImageName, ImageRecipe> = {
  minimal: { name: 'minimal', suite: 'bookworm', packages: MINIMAL_PACKAGES, setup: USER_SETUP },
  dev: { name: 'dev', suite: 'bookworm', packages: [...MINIMAL_PACKAGES, ...DEV_PACKAGES], setup: USER_SETUP },
};

/** `dev-1a2b3c4d5e6f`: the image's name and the hash of everything that decides its content. */
export function imageId(recipe: ImageRecipe, mirror: string | undefined): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ ...recipe, mirror: mirror ?? null, format: 1 }))
    .digest('hex')
    .slice(0, 12);
  return `${recipe.name}-${hash}`;
}
