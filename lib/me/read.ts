// The one read behind GET /api/me: the caller's user row (or tombstone) and its linked profile.
// A statement of its own so the on-demand sync can append it to its batch (same round trip, and it
// sees that batch's writes).
import { type SQL, sql } from "drizzle-orm";
import { MAPPING } from "../../drizzle/mapping.js";
import { namesOf } from "../mapping.js";

const U = namesOf(MAPPING.users);
const M = namesOf(MAPPING.mentorados);

/** The profile fields the app gets: nothing about the account's email or anyone else. */
export interface MeMentorado {
  id: number;
  nome_completo: string;
  turma: string;
  origem: string;
}

export type StoredMe =
  | { state: "absent" }
  | { state: "deleted" }
  | { state: "synced"; mentorado: MeMentorado | null };

export function selectMe(clerkId: string): SQL {
  return sql`select (u.${U.deleted_at} is not null) as deleted,
      m.${M.id} as mentorado_id, m.${M.nome_completo} as nome_completo, m.${M.turma} as turma,
      m.${M.origem} as origem
    from ${U.$} u left join ${M.$} m on m.${M.user_id} = u.${U.id}
    where u.${U.clerk_id} = ${clerkId}`;
}

/** The rows of selectMe -> what is stored (mentorados.user_id is unique: at most one row). */
export function storedMe(rows: Record<string, unknown>[]): StoredMe {
  const row = rows[0];
  if (!row) return { state: "absent" };
  if (row.deleted === true) return { state: "deleted" };
  if (row.mentorado_id === null || row.mentorado_id === undefined) {
    return { state: "synced", mentorado: null };
  }
  return {
    state: "synced",
    mentorado: {
      id: Number(row.mentorado_id),
      nome_completo: String(row.nome_completo),
      turma: String(row.turma),
      origem: String(row.origem),
    },
  };
}
