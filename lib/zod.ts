// The zod every module of lib/ uses: zod/mini, the tree-shakable build of zod 4, so a function
// bundles only the validators it calls (tens of KB minified, against ~450 KB for `zod`'s chainable
// API, parsed on every cold start). Modules write `import { z } from "../zod.js"` as with zod; the
// names are listed one by one because re-exporting zod/mini's whole namespace would put all of it
// (every locale, JSON Schema...) back into each bundle. English messages are loaded once, so
// errors read as with `zod` ("Too big: expected string to have <=254 characters").
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

export * as z from "./zod-api.js";

/** "path.to.field: message" of a failed parse's first issue (never the offending value). */
export function firstIssue(error: { issues: readonly { path: PropertyKey[]; message: string }[] }) {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join(".") || "body"}: ${issue.message}` : "invalid";
}
