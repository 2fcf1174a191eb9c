// `@burrow/sdk/agents`: the coding agents and secret presets, declared in @burrow/protocol and
// re-exported here so this subpath keeps working (it pulls in no client code).
export {
  AGENT_NAMES,
  AGENTS,
  DEFAULT_AGENT,
  SECRET_PRESET_NAMES,
  SECRET_PRESETS,
  type AgentName,
  type SecretPreset,
  type SecretPresetSpec,
} from '@burrow/protocol/agents';
