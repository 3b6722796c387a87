// An Express 5 app with a global express.json(), mounting the package as
// docs/inside-your-server.md says. CONSUMER_WRONG_ORDER=1 mounts the webhook after the parser,
// to show the loud error. Prints {"port": N} once listening.
import { createExpressMiddleware } from "@trpc/server/adapters/express";
import { clerkWebhook, drainOnShutdown, health, me } from "clerk-neon-sync/node";
import express from "express";
import { appRouter } from "./router.js";

const app = express();
const wrongOrder = process.env.CONSUMER_WRONG_ORDER === "1";

// The one line, above every body parser: the webhook needs the exact bytes Svix signed.
if (!wrongOrder) app.post("/api/webhooks/clerk", clerkWebhook());
app.use(express.json());
if (wrongOrder) app.post("/api/webhooks/clerk", clerkWebhook());

app.get("/api/me", me());
app.get("/api/health", health());
app.use(
  "/trpc",
  createExpressMiddleware({
    router: appRouter,
    createContext: ({ req }) => ({ authorization: req.headers.authorization ?? null }),
  }),
);
// The app's own JSON routes still get their parsed body.
app.post("/echo", (req, res) => {
  res.json({ parsed: req.body as unknown });
});

const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 }));
});
drainOnShutdown({ close: () => server.close() });
