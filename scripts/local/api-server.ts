// Serves the functions under api/ the way Vercel routes them, for `npm run dev`: the URL path
// /api/x/y runs api/x/y.ts (or api/x/y/index.ts), looked up on every request, so a new file is
// served without a route table or a restart. The module is imported through tsx's loader (the dev
// server runs under tsx) and the exported function named after the HTTP method gets a Web-standard
// Request; `export default { fetch }` works too. @hono/node-server does the Node <-> Web conversion.
//
// Like Vercel's proxy, the whole request body is read (up to Vercel's 4.5 MB limit) BEFORE the
// function runs, and the function gets it from memory. A function may then answer early (a 413
// from the declared content-length, say) without the client's upload being cut off mid-stream,
// which a client sees as a connection reset instead of the answer. Bodies over the limit get a
// 413 from this server, after the upload has been read and discarded (up to a hard bound).
//
// Like Vercel's runtime, it installs a request context (request-context.ts), so a function's
// `waitUntil` work (the welcome email after a sync) runs after the answer and is tracked: `idle()`
// waits for it, and closing the server waits for it too, as an invocation lives until it is done.
//
// Local development only: nothing under api/ or lib/ imports this file.
import { existsSync, readdirSync, statSync } from "node:fs";
import type { Server } from "node:http";
import { join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { createAdaptorServer } from "@hono/node-server";
import { json } from "../../lib/webhook/responses.js";
import { listen } from "./listen.js";
import { installRequestContext } from "./request-context.js";

/** Vercel's request body limit for functions (413 FUNCTION_PAYLOAD_TOO_LARGE beyond it). */
export const VERCEL_BODY_LIMIT = 4.5 * 1024 * 1024;
/** Past this, an oversized upload is no longer drained: the connection is dropped. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

type Handler = (request: Request) => Response | Promise<Response>;
type FunctionModule = Record<string, unknown>;

/**
 * api/x/y.ts or api/x/y/index.ts for the URL path /api/x/y; undefined when no such function.
 * Segments starting with `_` or `.` are never functions (Vercel's convention for private files).
 */
export function resolveFunction(apiDir: string, pathname: string): string | undefined {
  if (pathname !== "/api" && !pathname.startsWith("/api/")) return undefined;
  let segments: string[];
  try {
    segments = pathname
      .slice("/api".length)
      .split("/")
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  if (segments.some((s) => /^[._]|[\\/\0]/.test(s))) return undefined;
  const base = join(apiDir, ...segments);
  const candidates = [
    ...(segments.length > 0 ? EXTENSIONS.map((e) => base + e) : []),
    ...EXTENSIONS.map((e) => join(base, `index${e}`)),
  ];
  for (const file of candidates) {
    const rel = relative(apiDir, file);
    if (rel.startsWith("..") || rel.startsWith(sep)) continue;
    if (file.endsWith(".d.ts")) continue;
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

/** Every function file under api/, as URL paths (for the banner). */
export function listFunctions(apiDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (/^[._]/.test(entry.name)) continue;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}/${entry.name}`);
      else if (EXTENSIONS.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith(".d.ts")) {
        const name = entry.name.replace(/\.[^.]+$/, "");
        out.push(name === "index" ? prefix || "/api" : `${prefix}/${name}`);
      }
    }
  };
  if (existsSync(apiDir)) walk(apiDir, "/api");
  return out;
}

function handlerFor(mod: FunctionModule, method: string): Handler | undefined {
  const named = mod[method];
  if (typeof named === "function") return named as Handler;
  if (method === "HEAD" && typeof mod.GET === "function") return mod.GET as Handler;
  const def = mod.default as { fetch?: unknown } | undefined;
  if (def && typeof def === "object" && typeof def.fetch === "function") {
    return (request) => (def.fetch as Handler).call(def, request);
  }
  return undefined;
}

function allowedMethods(mod: FunctionModule): string[] {
  const allowed = METHODS.filter((m) => typeof mod[m] === "function");
  if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.splice(1, 0, "HEAD");
  return allowed;
}

type BodyRead =
  | { ok: true; bytes: Uint8Array<ArrayBuffer> }
  | { ok: false; tooLarge: true; drained: boolean }
  | { ok: false; tooLarge: false };

/** Reads the whole body into memory; past `limit`, keeps reading and discarding to the end. */
async function bufferBody(request: Request, limit: number): Promise<BodyRead> {
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > DRAIN_LIMIT) {
        await reader.cancel().catch(() => {});
        return { ok: false, tooLarge: true, drained: false };
      }
      if (size <= limit) chunks.push(value);
    }
  } catch {
    return { ok: false, tooLarge: false }; // the client went away mid-upload
  }
  if (size > limit) return { ok: false, tooLarge: true, drained: true };
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { ok: true, bytes };
}

export interface ApiServerOptions {
  /** Folder holding the functions (the repository's api/). */
  apiDir: string;
  port: number;
  host: string;
  /** Requests wait for this before reaching a function (the database is still starting). */
  ready?: Promise<void>;
  bodyLimit?: number;
}

export interface ApiServer {
  server: Server;
  port: number;
  /** Resolves once all work the functions handed to waitUntil has settled. */
  idle(): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

/** How long closing waits for waitUntil work: Vercel allows it up to the function's maxDuration. */
const WAIT_UNTIL_LIMIT_MS = 30_000;

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const apiDir = resolve(opts.apiDir);
  const limit = opts.bodyLimit ?? VERCEL_BODY_LIMIT;

  async function fetchHandler(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const file = resolveFunction(apiDir, url.pathname);
    const method = request.method.toUpperCase();
    const hasBody = method !== "GET" && method !== "HEAD";

    // Read the body first, whatever happens next: answering before the upload is complete is
    // what turns into a connection reset on the client's side.
    const body = hasBody ? await bufferBody(request, limit) : { ok: true as const, bytes: null };
    if (!body.ok) {
      if (!body.tooLarge) return json(400, { ok: false, error: "BAD_REQUEST" });
      return json(
        413,
        {
          ok: false,
          error: "FUNCTION_PAYLOAD_TOO_LARGE",
          message: `Request bodies are limited to ${limit} bytes (Vercel's limit).`,
        },
        body.drained ? undefined : { connection: "close" },
      );
    }

    if (!file) {
      return json(404, {
        ok: false,
        error: "NOT_FOUND",
        message: `No function serves ${url.pathname} (files under api/ map to /api/...).`,
      });
    }
    await opts.ready;

    let mod: FunctionModule;
    try {
      mod = (await import(pathToFileURL(file).href)) as FunctionModule;
    } catch (err) {
      console.error(`[dev] could not load ${relative(process.cwd(), file)}:`, err);
      return json(500, { ok: false, error: "FUNCTION_INVOCATION_FAILED" });
    }
    const handler = handlerFor(mod, method);
    if (!handler) {
      const allow = allowedMethods(mod);
      if (allow.length === 0 && typeof mod.default === "function") {
        console.error(
          `[dev] ${relative(process.cwd(), file)} default-exports a (req, res) handler: the local` +
            " server only runs Web-standard handlers (export GET/POST/... or default { fetch }).",
        );
        return json(500, { ok: false, error: "FUNCTION_INVOCATION_FAILED" });
      }
      return json(
        405,
        { ok: false, error: "method_not_allowed", message: `Allowed: ${allow.join(", ")}.` },
        { allow: allow.join(", ") },
      );
    }

    // The function gets a fresh Request whose body is the bytes already read, with the length
    // Vercel's proxy would give it.
    const headers = new Headers(request.headers);
    headers.delete("transfer-encoding");
    if (body.bytes) headers.set("content-length", String(body.bytes.byteLength));
    const forwarded = new Request(request.url, {
      method,
      headers,
      body: body.bytes,
      signal: request.signal,
    });
    try {
      return await handler(forwarded);
    } catch (err) {
      console.error(`[dev] ${method} ${url.pathname} threw:`, err);
      return json(500, { ok: false, error: "FUNCTION_INVOCATION_FAILED" });
    }
  }

  const server = createAdaptorServer({ fetch: fetchHandler }) as Server;
  const port = await listen(server, opts.port, opts.host);
  const context = installRequestContext();

  return {
    server,
    port,
    idle: () => context.idle(),
    close: async (graceMs = 2000) => {
      await new Promise<void>((done) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          done();
        });
        server.closeIdleConnections();
      });
      let limit: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        context.idle(),
        new Promise<void>((r) => {
          limit = setTimeout(r, WAIT_UNTIL_LIMIT_MS);
        }),
      ]);
      clearTimeout(limit);
      context.uninstall();
    },
  };
}
