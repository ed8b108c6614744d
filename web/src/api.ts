// The one way the interface talks to rookery: same-origin fetch with the
// session cookie (never a token in storage), JSON in and out, and errors
// turned into sentences a person can act on.

import type { components } from './api-schema';

/** The error body of the API: {"error": "..."} plus details some refusals
 * add (message, key, reason, feature, keys, problems...). Bodies that are not
 * the API's (a proxy's page) parse to {}. */
export type ErrorBody = Partial<components['schemas']['Error']>;

export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  constructor(status: number, body: ErrorBody, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
  /** True when the licence lacks a feature (403 feature_not_entitled). */
  get notEntitled(): boolean {
    return this.status === 403 && this.body.error === 'feature_not_entitled';
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** onUnauthorized is told when any call answers 401 (the session ended). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

// Sentences for answers that carry no message of their own (a proxy's
// HTML page, an empty body).
function fallbackMessage(status: number): string {
  switch (status) {
    case 401:
      return 'Your session has ended. Sign in again.';
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      return 'The server does not know this address.';
    case 413:
      return 'What you sent is too large for the server.';
    case 429:
      return 'The server is busy. Wait a moment and try again.';
    case 502:
    case 503:
    case 504:
      return 'The server is unavailable at the moment. Try again shortly.';
    default:
      return status >= 500
        ? 'The server failed to answer. Try again, and ask an administrator to look at the server log if it keeps happening.'
        : `The server refused the request (status ${status}).`;
  }
}

/** Capitalise and end with a full stop: the API's messages are phrases. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : first + '.';
}

export function messageOf(status: number, body: ErrorBody): string {
  // A machine-readable code (feature_not_entitled, secret_reentry_required)
  // comes with a sentence for people in message.
  if (typeof body.error === 'string' && /^[a-z_]+$/.test(body.error) && typeof body.message === 'string' && body.message) {
    return sentence(body.message);
  }
  if (typeof body.error === 'string' && body.error) return sentence(body.error);
  if (typeof body.message === 'string' && body.message) return sentence(body.message);
  return fallbackMessage(status);
}

export interface Response<T> {
  data: T;
  headers: Headers;
  status: number;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** send makes one request and returns the raw fetch response, after
 * turning a network failure into an ApiError with status 0. */
export async function send(path: string, opts: RequestOptions = {}): Promise<globalThis.Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  try {
    return await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, {}, 'The server cannot be reached. Check your connection and try again.');
  }
}

/** errorFrom reads an error answer into an ApiError. */
export async function errorFrom(res: globalThis.Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    const parsed: unknown = await res.json();
    if (parsed && typeof parsed === 'object') body = parsed as ErrorBody;
  } catch {
    // not JSON: the fallback sentence says enough
  }
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn());
  return new ApiError(res.status, body, messageOf(res.status, body));
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<Response<T>> {
  const res = await send(path, opts);
  if (!res.ok) throw await errorFrom(res);
  const data = (await res.json()) as T;
  return { data, headers: res.headers, status: res.status };
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>(path, { signal }).then((r) => r.data);

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return sentence(err.message);
  return 'Something went wrong.';
}

// ---- the API's shapes ----
// Generated from the API document (docs/openapi.json) into api-schema.ts by
// `npm run gen:api`; below are the names the pages use.

type Schemas = components['schemas'];

export type Role = Schemas['MeUser']['role'];
export type Me = Schemas['MeAnswer'];
export type ConfigType = Schemas['ConfigItem']['type'];
export type ConfigItem = Schemas['ConfigItem'];
export type AuditRecord = Schemas['ConfigAuditRecord'];
export type LicenseStatus = Schemas['LicenseStatus'];
export type LicenseView = Schemas['LicenseAnswer'];
export type AIFeatures = Schemas['AIFeaturesAnswer'];
export type User = Schemas['User'];

/** Answers of the API, by their names in the document. */
export type LoginAnswer = Schemas['LoginAnswer'];
export type UsersAnswer = Schemas['UsersAnswer'];
export type UserAnswer = Schemas['UserAnswer'];
export type MessageAnswer = Schemas['MessageAnswer'];
export type ConfigListAnswer = Schemas['ConfigListAnswer'];
export type ConfigUpdatedAnswer = Schemas['ConfigUpdatedAnswer'];
export type ConfigHistoryAnswer = Schemas['ConfigHistoryAnswer'];
export type EmailTestAnswer = Schemas['EmailTestAnswer'];

// ---- users, sign-in and password pages ----

export type SignInMethod = User['sign_in_method'];

/** A single sign-on method the login page offers (GET /api/v1/auth/providers). */
export type Provider = Schemas['SSOProvider'];

export type Providers = Schemas['ProvidersAnswer'];

/** What a password link is for (GET /api/v1/auth/password/reset?token=). */
export type ResetLink = Schemas['TokenInfo'];

/** The answer to creating a user: invitation is "queued" when no password was given. */
export type CreatedUser = Schemas['UserAnswer'];

// ---- settings page ----

/** The structured form of a key's rule (config items' constraints). */
export type ConfigConstraints = Schemas['ConfigConstraints'];

/** An event of GET /api/v1/config/events (ready, change, resync). */
export type ConfigChangeEvent = Schemas['ConfigEvent'];

/** The answer of POST /api/v1/email/test (200) or of a refused send (502). */
export type EmailTestResult = Partial<Schemas['EmailTestAnswer'] & Schemas['EmailTestFailure']>;

// ---- licence, integrations and AI pages ----

/** What "Check now" did (POST /api/v1/license/refresh). */
export type LicenseCheck = Schemas['LicenseRefreshAnswer'];

/** The answer of POST /api/v1/integrations/{name}/test: the test ran; ok says how it went. */
export type IntegrationTest = Schemas['IntegrationTest'];

/** Whether the AI gateway can answer now (GET /api/v1/ai/gateway). */
export type AIGateway = Schemas['AIGatewayAnswer'];

/** GET /api/v1/integrations and its parts. */
export type Integrations = Schemas['Integrations'];
export type KillKrillReport = Schemas['KillKrillReport'];
export type KillKrillSpool = Schemas['KillKrillSpoolStats'];
export type SignalHealth = Schemas['TelemetrySignalHealth'];
export type ServiceCheck = Schemas['ServiceCheck'];
export type MarchProxyService = Schemas['MarchProxyService'];
export type EmailReport = Schemas['EmailReport'];

/** The AI page's answers. */
export type AIUsage = Schemas['WaddleAIUsage'];
export type AIAnalysis = Schemas['WaddleAIAnalysis'];
export type AIAnalyzeAnswer = Schemas['AIAnalyzeAnswer'];
export type AIGenerateAnswer = Schemas['AIGenerateAnswer'];
