// The app's tRPC v11 router, as the docs show it: `me` is the package's query resolver.
import { initTRPC } from "@trpc/server";
import { meQuery } from "clerk-neon-sync/trpc";

/** What each request's context carries: the caller's Authorization header. */
export interface Context {
  authorization: string | null;
}

const t = initTRPC.context<Context>().create();

export const appRouter = t.router({
  me: t.procedure.query(meQuery((ctx: Context) => ctx.authorization)),
});
export type AppRouter = typeof appRouter;
