export { ConfigError, isConfigError, parseEnv, env, redactedUrl } from "./env-config.js";
export { serviceConfigSchema, commonVariables, type CommonServiceConfig, type TlsFiles } from "./service-config.js";
export { pathsOf, type ConfiguredPath } from "./config-paths.js";
