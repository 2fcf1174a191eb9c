/**
 * The isolation drivers that can run a sandbox: gVisor's user-space kernel, runc's namespaces,
 * or a QEMU microVM with its own kernel.
 */
export const RUNTIMES = ['gvisor', 'runc', 'vm'] as const;
export type Runtime = (typeof RUNTIMES)[number];
