// The zod every module of lib/ uses: zod/mini, the tree-shakable build of zod 4. A function bundles
// only the validators it calls (about 20 KB minified, against about 450 KB for `zod`'s chainable
// API, which every cold start of every function would parse). English messages are loaded once,
// so errors read as they do with `zod` ("Too big: expected string to have <=254 characters").
import * as z from "zod/mini";
import { en } from "zod/v4/locales";

z.config(en());

export { z };

/** "path.to.field: message" of a failed parse's first issue (never the offending value). */
export function firstIssue(error: { issues: readonly { path: PropertyKey[]; message: string }[] }) {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join(".") || "body"}: ${issue.message}` : "invalid";
}
