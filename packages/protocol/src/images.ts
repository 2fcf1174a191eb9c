/** The base images burrow builds; packages/server/src/storage/image-recipes.ts says what each holds. */
export const IMAGE_NAMES = ['minimal', 'dev', 'code-interpreter'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/**
 * Where the code interpreter of a `code-interpreter` sandbox answers, on the sandbox's localhost:
 * E2B's Jupyter port, which `@e2b/code-interpreter` addresses.
 */
export const CODE_INTERPRETER_PORT = 49999;
