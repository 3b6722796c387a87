// The app's table and column names the sync uses (lib/mapping.ts). This is the service's own
// naming, for a database it created. `npm run db:adopt -- --apply` rewrites this file with what
// it found in an app's database: commit it with the app's deployment (docs/adopting.md).
import { IDENTITY_MAPPING, type Mapping } from "../lib/mapping.js";

export const MAPPING: Mapping = IDENTITY_MAPPING;
