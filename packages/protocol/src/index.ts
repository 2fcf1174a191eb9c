/**
 * @burrow/protocol: burrow's wire contract, declared once. The server answers with it, and the
 * SDK, the CLI and the dashboard read with it: request schemas, response shapes, error codes,
 * token ops and caveats, the macaroon codec, and the table of routes.
 */
export * from './agents.js';
export * from './caveats.js';
export * from './duration.js';
export * from './error-codes.js';
export * from './fs-schemas.js';
export * from './fs-types.js';
export * from './image-archives.js';
export * from './images.js';
export * from './runtimes.js';
export * from './macaroon.js';
export * from './names.js';
export * from './network-policy.js';
export * from './privileges.js';
export * from './openapi.js';
export * from './request-schemas.js';
export * from './response-schemas.js';
export * from './routes.js';
export type * from './services.js';
export * from './tokens.js';
export type * from './wire-types.js';
