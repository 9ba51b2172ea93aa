// fetch() for the Fleet API: same-origin cookies, JSON in and out, and every failure as an ApiError that carries the
// ProblemDetails title/detail the server sent (or a network error), so the page can always say what went wrong.
import { t } from "./i18n";

export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: Record<string, string[]>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }

  /** A line for a toast: title, then detail and the field errors, if any. */
  get description(): string {
    const parts: string[] = [];
    if (this.problem.detail) {
      parts.push(this.problem.detail);
    }
    for (const [field, messages] of Object.entries(this.problem.errors ?? {})) {
      parts.push(`${field}: ${messages.join(" ")}`);
    }
    return parts.join(" ");
  }
}

/** Called when any request answers 401: the session is gone (expired, or the account was disabled). */
let onUnauthorized: (() => void) | null = null;

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** The header a cookie session's state changes must carry (src/Fleet.Web/Auth/SessionAntiforgery.cs). */
const antiforgeryHeader = "X-Fleet-Antiforgery";

// The session's antiforgery token, from the login or /api/auth/me response. Kept in memory only: a reload asks /me again.
let antiforgeryToken: string | null = null;

function isUnsafe(method: string): boolean {
  return !["GET", "HEAD", "OPTIONS", "TRACE"].includes(method.toUpperCase());
}

/** Remembers the token whenever a response hands one out (login, /me). */
function keepAntiforgeryToken(response: Response): void {
  const token = response.headers.get(antiforgeryHeader);
  if (token) {
    antiforgeryToken = token;
  }
}

/** Asks /api/auth/me for the token when none is held yet (a page that changes something before it asked /me). */
async function ensureAntiforgeryToken(): Promise<void> {
  if (antiforgeryToken) {
    return;
  }
  try {
    keepAntiforgeryToken(await fetch("/api/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } }));
  } catch {
    // The change goes without the header; the server's ProblemDetails then says what is wrong.
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  /** Do not call the 401 handler (the login form and the first /me ask expect 401). */
  quiet401?: boolean;
}

async function send(url: string, options: RequestOptions): Promise<Response> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json, application/geo+json" };
  const init: RequestInit = { method, credentials: "same-origin", headers, signal: options.signal };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
  }
  if (isUnsafe(method) && !url.endsWith("/api/auth/login")) {
    await ensureAntiforgeryToken();
    if (antiforgeryToken) {
      headers[antiforgeryHeader] = antiforgeryToken;
    }
  }
  let response: Response;
  try {
    response = await fetch(url, init);
    keepAntiforgeryToken(response);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") {
      throw error;
    }
    throw new ApiError(0, { title: t("common.networkError"), detail: String(error) });
  }
  if (!response.ok) {
    const problem = await readProblem(response);
    if (response.status === 401 && !options.quiet401 && onUnauthorized) {
      onUnauthorized();
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

async function readProblem(response: Response): Promise<ProblemDetails> {
  const fallback: ProblemDetails = { status: response.status, title: `${t("common.error")} (HTTP ${response.status})` };
  const type = response.headers.get("Content-Type") ?? "";
  if (!type.includes("json")) {
    return fallback;
  }
  try {
    const body = (await response.json()) as ProblemDetails;
    return { ...fallback, ...body };
  } catch {
    return fallback;
  }
}

export async function getJson<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(url, options);
  return (await response.json()) as T;
}

export async function postJson<T>(url: string, body: unknown, options: RequestOptions = {}): Promise<T | null> {
  const response = await send(url, { ...options, method: "POST", body });
  return response.status === 204 ? null : ((await response.json()) as T);
}

/**
 * Sends a state change as JSON with the session's antiforgery header and returns the response as it is (no throw on
 * 4xx/5xx: the caller reads the status and the ProblemDetails). For admin pages and other forms: one call shape for
 * POST, PUT, PATCH and DELETE.
 */
export async function sendJson(method: string, url: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
  const init: RequestInit = { method: method.toUpperCase(), credentials: "same-origin", headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  if (isUnsafe(method)) {
    await ensureAntiforgeryToken();
    if (antiforgeryToken) {
      headers[antiforgeryHeader] = antiforgeryToken;
    }
  }
  const response = await fetch(url, init);
  keepAntiforgeryToken(response);
  if (response.status === 401 && onUnauthorized) {
    onUnauthorized();
  }
  return response;
}

/** The status of a GET without throwing: for optional endpoints (the road network may not exist yet). */
export async function probe(url: string): Promise<Response | null> {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json, application/geo+json" } });
    return response.ok ? response : null;
  } catch {
    return null;
  }
}

/** Builds "path?a=1&b=2" from the defined, non-empty values. */
export function withQuery(path: string, query: Record<string, string | number | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
