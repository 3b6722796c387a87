// The same routes on Bun.serve: the package's Web handlers with their waitUntil, and tRPC's fetch
// adapter. Prints {"port": N} once listening.
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { drainOnShutdown, routes } from "clerk-neon-sync/fetch";
import { appRouter } from "./router.js";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  routes: {
    "/api/webhooks/clerk": routes["/api/webhooks/clerk"],
    "/api/me": routes["/api/me"],
    "/api/health": routes["/api/health"],
  },
  fetch: (request) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: request,
      router: appRouter,
      createContext: () => ({ authorization: request.headers.get("authorization") }),
    }),
});
console.log(JSON.stringify({ port: server.port }));
drainOnShutdown({ close: () => server.stop() });
