import { Pool } from "undici";

export interface UpstreamConfig {
  name: string;
  /** Origin and optional path prefix, e.g. `https://api.openai.com` (a trailing `/v1` is dropped: client paths carry it). */
  baseUrl: string;
  format: "openai" | "anthropic";
  /** The environment variable holding the provider's API key; the agent never holds it. */
  apiKeyEnv?: string;
  /** Models routed here: exact names or globs with `*`. Absent means every model of its format. */
  models?: string[];
}

export interface Upstream {
  config: UpstreamConfig;
  pool: Pool;
  /** Path prefix to put before the client's `/v1/...` path. */
  prefix: string;
  matches(model: string | undefined): boolean;
}

export interface UpstreamTimeouts {
  /** Until the upstream's response headers arrive (the model's time to first byte). */
  headersMs: number;
  /** Longest silence between body chunks. */
  bodyMs: number;
}

/** One keep-alive pool per upstream (undici; `fetch()` costs several times more per call). */
export function createUpstreams(configs: UpstreamConfig[], timeouts: UpstreamTimeouts): Upstream[] {
  return configs.map((config) => {
    const url = new URL(config.baseUrl);
    const patterns = config.models?.map(globToRegExp);
    return {
      config,
      pool: new Pool(url.origin, {
        keepAliveTimeout: 30_000,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyMs,
      }),
      prefix: url.pathname.replace(/\/+$/, "").replace(/\/v1$/, ""),
      matches: (model) =>
        patterns === undefined || (model !== undefined && patterns.some((pattern) => pattern.test(model))),
    };
  });
}

export function selectUpstream(
  upstreams: Upstream[],
  format: "openai" | "anthropic",
  model: string | undefined,
): Upstream | undefined {
  return upstreams.find((upstream) => upstream.config.format === format && upstream.matches(model));
}

/** The provider credential header for the upstream, or an error naming the missing variable. */
export function credentialHeaders(upstream: Upstream): Record<string, string> | { missing: string } {
  const variable = upstream.config.apiKeyEnv;
  if (variable === undefined) return {};
  const key = process.env[variable];
  if (key === undefined || key === "") return { missing: variable };
  return upstream.config.format === "anthropic" ? { "x-api-key": key } : { authorization: `Bearer ${key}` };
}

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}
