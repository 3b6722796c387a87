// The report db:adopt prints: plain text for a person (what was found, what blocks, the facts,
// the SQL it would run and its inverse), or --json for a script. Ids and counts only.
import type { Plan } from "./plan.js";
import { sqlScript } from "./plan.js";

export interface ReportJson {
  adoptable: boolean;
  alreadyAdopted: { adoptedAt: string } | null;
  tables: Plan["tables"];
  blockers: Plan["blockers"];
  facts: string[];
  warnings: string[];
  erase: Plan["erase"];
  mapping: Plan["mapping"];
  migration: string;
  inverse: string;
}

export function reportJson(plan: Plan): ReportJson {
  return {
    adoptable: plan.blockers.length === 0,
    alreadyAdopted: plan.alreadyAdopted,
    tables: plan.tables,
    blockers: plan.blockers,
    facts: plan.facts,
    warnings: plan.warnings,
    erase: plan.erase,
    mapping: plan.mapping,
    migration: sqlScript(plan.migration),
    inverse: sqlScript(plan.inverse),
  };
}

const indent = (text: string, by = "    ") =>
  text
    .split("\n")
    .map((l) => (l ? by + l : l))
    .join("\n");

/** `verdict`: end with whether it is adoptable (not after --apply, which says what it did). */
export function reportText(plan: Plan, verdict = true): string {
  const out: string[] = [];
  if (plan.alreadyAdopted)
    out.push(`already adopted (${plan.alreadyAdopted.adoptedAt}): --apply changes nothing`, "");
  for (const t of Object.values(plan.tables)) {
    if (!t.exists) {
      out.push(`${t.table}: missing`, "");
      continue;
    }
    out.push(`${t.table} (${t.naming}):`);
    for (const c of t.columns) {
      const line =
        c.status === "found"
          ? `found ${c.name} (${c.type})${c.via === "--column" ? ", named by --column" : ""}`
          : c.status === "missing"
            ? `missing: will be added as ${c.name} ${c.addType}`
            : c.status === "incompatible"
              ? `incompatible: ${c.name} is ${c.type}, needs a ${c.needs} type`
              : c.status === "ambiguous"
                ? `ambiguous: both ${c.names[0]} and ${c.names[1]}`
                : `missing, cannot be added: ${c.ours}`;
      out.push(`  ${c.ours.padEnd(17)} ${line}`);
    }
    out.push("");
  }
  out.push(plan.blockers.length ? `blockers (${plan.blockers.length}):` : "blockers: none");
  for (const b of plan.blockers) out.push(`  - ${b.problem}`, `    do: ${b.fix}`);
  out.push("", "facts:");
  for (const f of plan.facts) out.push(`  - ${f}`);
  for (const w of plan.warnings) out.push(`  - warning: ${w}`);
  out.push(
    `  - user.deleted erases users.${plan.erase.erased.join(", users.")} (and keeps the row as a tombstone)`,
    `  - user.deleted does NOT erase: ${
      plan.erase.notErased.length
        ? `users.${plan.erase.notErased.join(", users.")} (name them with --erase users.<column>)`
        : "no other personal-looking users column"
    }; the profile stays, unlinked${plan.erase.profileKept.length ? `, with mentorados.${plan.erase.profileKept.join(", mentorados.")}` : ""}`,
  );
  out.push(
    "",
    plan.migration.length
      ? "the migration --apply runs, in one transaction (additive only; then our journal row 'adopt' and clerk_sync.adoption):"
      : "the migration --apply runs: nothing in the app's tables (then our journal row 'adopt' and clerk_sync.adoption)",
  );
  if (plan.migration.length) out.push(indent(sqlScript(plan.migration)));
  out.push(
    "",
    "its exact inverse (npm run db:adopt -- --undo prints it after --apply):",
    indent(sqlScript(plan.inverse)),
    "",
  );
  if (!verdict) return out.join("\n").trimEnd();
  out.push(
    plan.blockers.length
      ? `not adoptable: resolve the ${plan.blockers.length} blocker(s) above, then run npm run db:adopt again`
      : plan.alreadyAdopted
        ? "adopted"
        : "adoptable: npm run db:adopt -- --apply",
  );
  return out.join("\n");
}
