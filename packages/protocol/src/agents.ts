// The coding agents the `dev` image carries, and the secret presets that make them keyless: what
// each agent is called, how it starts in YOLO mode, which API it calls and how it is given a key.
// Server (image recipe, grants), CLI (`burrow agent`, `secret add --preset`) and dashboard read
// these; nothing else repeats them.

export interface SecretPresetSpec {
  hosts: readonly string[];
  /** The header(s) the egress proxy sets (see `inject` of a secret). */
  inject: string;
  /**
   * The variables the tools read the key from: a grant sets them to the placeholder (the first
   * is the one the grant records; `--env` names another instead of all of these).
   */
  env: readonly [string, ...string[]];
  /** git's credential helper hands out the placeholder for these hosts, as this user. */
  git?: { hosts: readonly string[]; username: string };
}

export const SECRET_PRESETS = {
  anthropic: {
    hosts: ['api.anthropic.com'],
    inject: 'x-api-key: {}',
    env: ['ANTHROPIC_API_KEY'],
  },
  openai: {
    hosts: ['api.openai.com'],
    inject: 'Authorization: Bearer {}',
    // Codex CLI reads CODEX_API_KEY (OPENAI_API_KEY only when logging in with it).
    env: ['OPENAI_API_KEY', 'CODEX_API_KEY'],
  },
  gemini: {
    hosts: ['generativelanguage.googleapis.com'],
    inject: 'x-goog-api-key: {}',
    env: ['GEMINI_API_KEY'],
  },
  github: {
    hosts: ['github.com', 'api.github.com', 'uploads.github.com', 'codeload.github.com'],
    // The REST API takes the token as a bearer; git over HTTPS sends Basic credentials, and
    // GitHub wants the user name x-access-token with the token as the password.
    inject: ['Authorization: Bearer {}', 'github.com=Authorization: Basic {base64:x-access-token:{}}'].join('\n'),
    env: ['GH_TOKEN'],
    git: { hosts: ['github.com'], username: 'x-access-token' },
  },
} as const satisfies Record<string, SecretPresetSpec>;

export type SecretPreset = keyof typeof SECRET_PRESETS;
export const SECRET_PRESET_NAMES = Object.keys(SECRET_PRESETS) as SecretPreset[];

/** `command` is the argv of a new session; arguments given by the user follow it. */
export const AGENTS = {
  claude: {
    label: 'Claude Code',
    package: '@anthropic-ai/claude-code',
    command: ['claude', '--dangerously-skip-permissions'],
    preset: 'anthropic',
  },
  codex: {
    label: 'Codex',
    package: '@openai/codex',
    // Codex's terminal UI takes a key only from its own login (~/.codex/auth.json), and asks
    // to sign in anew unless told the login is an API key: so it logs in with the placeholder.
    command: [
      'sh',
      '-c',
      'if [ -n "$OPENAI_API_KEY" ]; then printenv OPENAI_API_KEY | codex login --with-api-key >/dev/null && set -- -c \'forced_login_method="api"\' "$@"; fi; exec codex --dangerously-bypass-approvals-and-sandbox "$@"',
      'codex',
    ],
    preset: 'openai',
  },
  gemini: {
    label: 'Gemini CLI',
    package: '@google/gemini-cli',
    command: ['gemini', '--yolo'],
    preset: 'gemini',
  },
} as const satisfies Record<string, { label: string; package: string; command: readonly string[]; preset: SecretPreset }>;

export type AgentName = keyof typeof AGENTS;
export const AGENT_NAMES = Object.keys(AGENTS) as AgentName[];
export const DEFAULT_AGENT: AgentName = 'claude';
