// Runs Vercel's real CLI (`vercel build`, pinned and cached by scripts/ci/vercel-cli.sh) offline
// on a fresh copy of the repository, as a newly imported Vercel project would build it. Used by tests/vercel-build.test.ts
// and `npm run bench:cold`, which measure what this writes, not an approximation of it.
//
// Offline needs only a hand-written .vercel/project.json (what `vercel link` would write). The
// copy's node_modules is ours, hard-linked (npm replaces a symlinked node_modules), so the CLI's
// install step finds everything in place and installs nothing.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./output.js";

export const PROJECT_JSON = {
  projectId: "prj_local",
  orgId: "team_local",
  settings: {
    framework: null,
    buildCommand: null,
    installCommand: null,
    outputDirectory: null,
    rootDirectory: null,
    devCommand: null,
    nodeVersion: "22.x",
    createdAt: 1,
  },
};

/** The files a clone of the current tree would have (tracked, plus new files not ignored). */
export function repositoryFiles(root = ROOT): string[] {
  return execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f && existsSync(join(root, f)));
}

export function walkFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walkFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

export interface OfflineBuild {
  /** The fresh copy that was built. */
  dir: string;
  /** Its .vercel/output. */
  output: string;
  status: number | null;
  log: string;
}

export interface OfflineBuildOptions {
  /** Environment of the build (DATABASE_URL...); PATH and HOME are passed through. */
  env?: Record<string, string | undefined>;
  /** Files to overwrite in the copy before building (path -> content), e.g. another vercel.json. */
  overrides?: Record<string, string>;
}

/**
 * A fresh copy of the repository, as a clone would have it (no .env.local, no .data, no .vercel),
 * with our node_modules hard-linked into it, in a new temporary folder.
 */
export function freshRepositoryCopy(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const f of repositoryFiles()) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f));
  }
  execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")]);
  return dir;
}

/** The pinned Vercel CLI's entry (vc.js), installed into the cache folder on first use. */
export function vercelCli(): string {
  return execFileSync(join(ROOT, "scripts", "ci", "vercel-cli.sh"), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

/** Async on purpose: the build may migrate through a SQL endpoint served by the caller's process. */
export async function offlineVercelBuild(opts: OfflineBuildOptions = {}): Promise<OfflineBuild> {
  const dir = freshRepositoryCopy("cns-vercel-build-");
  for (const [f, content] of Object.entries(opts.overrides ?? {})) {
    writeFileSync(join(dir, f), content);
  }
  mkdirSync(join(dir, ".vercel"));
  writeFileSync(join(dir, ".vercel", "project.json"), JSON.stringify(PROJECT_JSON));
  const cli = vercelCli();
  const child = spawn(process.execPath, [cli, "build", "--yes"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      VERCEL_TELEMETRY_DISABLED: "1",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d: Buffer) => {
    log += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    dir,
    output: join(dir, ".vercel", "output"),
    status,
    log,
  };
}
