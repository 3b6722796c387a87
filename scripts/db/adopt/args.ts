// The command line of `npm run db:adopt`, validated before anything connects: a bad argument is
// exit 2 with one line saying which and why (scripts/db/adopt.ts).
import { parseArgs } from "node:util";
import {
  MENTORADO_COLUMNS,
  type MentoradoColumn,
  USER_COLUMNS,
  type UserColumn,
} from "../../../lib/mapping.js";

export interface AdoptOptions {
  mode: "report" | "apply" | "undo";
  /** Explicit names where neither the snake_case nor the camelCase one is the app's. */
  overrides: {
    users: Partial<Record<UserColumn, string>>;
    mentorados: Partial<Record<MentoradoColumn, string>>;
  };
  /** App-owned personal columns of `users` that user.deleted erases too. */
  erase: string[];
  /** Profiles from before adoption get a welcome email too (welcome_after_mentorado_id = 0). */
  welcomeExisting: boolean;
  mappingFile: string | undefined;
  json: boolean;
}

export class ArgumentError extends Error {}

const IDENT = /^[^\s."]{1,63}$/;

export function parseAdoptArgs(argv: string[]): AdoptOptions {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new ArgumentError((err as Error).message);
  }
  if (values.apply && values.undo) throw new ArgumentError("--apply and --undo exclude each other");
  const overrides: AdoptOptions["overrides"] = { users: {}, mentorados: {} };
  for (const spec of values.column ?? []) {
    const m = /^(users|mentorados)\.([a-z_]+)=(.+)$/.exec(spec);
    if (!m)
      throw new ArgumentError(
        `--column ${spec}: expected <users|mentorados>.<our_column>=<their_column>`,
      );
    const [, table, ours, theirs] = m as unknown as [
      string,
      "users" | "mentorados",
      string,
      string,
    ];
    if (!IDENT.test(theirs))
      throw new ArgumentError(`--column ${spec}: "${theirs}" is not a column name`);
    if (table === "users") {
      if (!(USER_COLUMNS as readonly string[]).includes(ours))
        throw new ArgumentError(
          `--column ${spec}: users has no sync column ${ours} (one of ${USER_COLUMNS.join(", ")})`,
        );
      overrides.users[ours as UserColumn] = theirs;
    } else {
      if (!(MENTORADO_COLUMNS as readonly string[]).includes(ours))
        throw new ArgumentError(
          `--column ${spec}: mentorados has no sync column ${ours} (one of ${MENTORADO_COLUMNS.join(", ")})`,
        );
      overrides.mentorados[ours as MentoradoColumn] = theirs;
    }
  }
  const erase: string[] = [];
  for (const spec of values.erase ?? []) {
    const m = /^users\.(.+)$/.exec(spec);
    if (!m?.[1] || !IDENT.test(m[1]))
      throw new ArgumentError(`--erase ${spec}: expected users.<column>`);
    if (!erase.includes(m[1])) erase.push(m[1]);
  }
  return {
    mode: values.apply ? "apply" : values.undo ? "undo" : "report",
    overrides,
    erase,
    welcomeExisting: values["welcome-existing"] ?? false,
    mappingFile: values["mapping-file"],
    json: values.json ?? false,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      apply: { type: "boolean" },
      undo: { type: "boolean" },
      column: { type: "string", multiple: true },
      erase: { type: "string", multiple: true },
      "welcome-existing": { type: "boolean" },
      "mapping-file": { type: "string" },
      json: { type: "boolean" },
    },
  });
}
