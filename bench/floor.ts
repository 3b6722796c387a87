// The floor of `npm run bench`: what a function costs with none of the webhook's work in it.
// It reads the request's body, makes the one SQL HTTP request every event needs (`select 1`,
// through the same driver, deadline and endpoint as the real handler) and answers a small JSON
// body. No verification, no parsing, no rules, no log line. Its CPU per event is what Node's HTTP
// server, the driver's fetch and the process itself cost at a given RTT and concurrency: the part
// of the real handler's figure that no change to our code can remove.
import { getDb } from "../lib/db.js";

export async function floorHandler(request: Request): Promise<Response> {
  await request.arrayBuffer();
  await getDb().$client.query("select 1");
  return Response.json({ ok: true, outcome: "floor" });
}
