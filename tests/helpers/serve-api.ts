// A child process for tests that need the functions as another copy of the repository builds
// them (one adopted by `npm run db:adopt -- --apply`, with its own drizzle/mapping.ts): serves
// api/ as `npm run dev` does, with the environment it is given, and prints its port as one JSON
// line. SIGTERM closes it once the functions' waitUntil work is done.
import { startApiServer } from "../../scripts/local/api-server.js";

const api = await startApiServer({ apiDir: "api", port: 0, host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ port: api.port })}\n`);
process.on("SIGTERM", () => {
  void api.close().then(() => process.exit(0));
});
