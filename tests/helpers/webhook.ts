// Drives the real handler (api/webhooks/clerk.ts) with real svix signatures, and reads the rows.
import { asc, eq, sql } from "drizzle-orm";
import * as clerkRoute from "../../api/webhooks/clerk.js";
import { clerkWebhookEvents, emailOutbox, mentorados, users } from "../../drizzle/schema.js";
import { getDb } from "../../lib/db.js";
import { type ClerkEventJson, svixHeaders } from "../fixtures/clerk.js";
import { TEST_SECRET } from "./constants.js";

export const WEBHOOK_URL = "https://sync.example.test/api/webhooks/clerk";

export interface Answer {
  status: number;
  body: { ok: boolean; outcome?: string; error?: string; message?: string };
  headers: Headers;
}

export interface DeliverOptions {
  secret?: string;
  svixId?: string;
  timestamp?: number;
  method?: string;
  headers?: Record<string, string | null>;
}

export function signedRequest(
  payload: ClerkEventJson | string,
  opts: DeliverOptions = {},
): Request {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = svixHeaders(body, {
    secret: opts.secret ?? TEST_SECRET,
    svixId: opts.svixId,
    timestamp: opts.timestamp,
  });
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const method = opts.method ?? "POST";
  return new Request(WEBHOOK_URL, {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? undefined : body,
  });
}

type Handler = (r: Request) => Promise<Response>;
const routes = clerkRoute as unknown as Record<string, Handler | undefined>;

export async function call(request: Request): Promise<Answer> {
  const handler = routes[request.method];
  if (!handler) throw new Error(`no handler for ${request.method}`);
  const res = await handler(request);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

export async function deliver(
  payload: ClerkEventJson | string,
  opts: DeliverOptions = {},
): Promise<Answer> {
  return call(signedRequest(payload, opts));
}

export async function preRegister(
  email: string,
  nome = "Mentorada Pré",
  turma = "turma_2026",
): Promise<number> {
  const [row] = await getDb()
    .insert(mentorados)
    .values({ email, nomeCompleto: nome, turma, origem: "pre_registered" })
    .returning({ id: mentorados.id });
  return row!.id;
}

export async function allUsers() {
  return getDb().select().from(users).orderBy(asc(users.id));
}
export async function userByClerkId(clerkId: string) {
  const [u] = await getDb().select().from(users).where(eq(users.clerkId, clerkId));
  return u;
}
export async function allMentorados() {
  return getDb().select().from(mentorados).orderBy(asc(mentorados.id));
}
export async function allOutbox() {
  return getDb().select().from(emailOutbox).orderBy(asc(emailOutbox.id));
}
export async function allLedger() {
  return getDb().select().from(clerkWebhookEvents).orderBy(asc(clerkWebhookEvents.receivedAt));
}

/** Every row of every table, for "nothing changed" assertions. */
export async function snapshot(): Promise<string> {
  const r = await getDb().execute(sql`select json_build_object(
    'users', (select coalesce(json_agg(u order by id), '[]') from users u),
    'mentorados', (select coalesce(json_agg(m order by id), '[]') from mentorados m),
    'outbox', (select coalesce(json_agg(o order by id), '[]') from clerk_sync.email_outbox o),
    'ledger', (select coalesce(json_agg(l order by svix_id), '[]') from clerk_sync.clerk_webhook_events l)
  ) as s`);
  return JSON.stringify((r.rows[0] as { s: unknown }).s);
}
