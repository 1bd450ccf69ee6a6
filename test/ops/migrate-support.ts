/**
 * Test support for migration and validation: a writable copy of the Python
 * registry's data directory, and a database migrated from it.
 */
import { chmodSync, cpSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { FIXTURES_DIR, readFixture } from "../fixtures.js";
import { runMigration, type MigrationReport } from "../../src/ops/migrate.js";
import { tempDir } from "../temp.js";

export const FIXTURE_DIR = path.join(FIXTURES_DIR, "python-registry");
export const SOURCE_DB = "oversight-registry.sqlite";

export interface Expected {
  tables: Record<"manifests" | "beacons" | "watermarks" | "events" | "corpus", number>;
  tlog_size: number;
  tlog_root: string;
  registry_pub: string;
}

export const expected = (): Expected => readFixture<Expected>("python-registry/EXPECTED.json");

/** A writable copy of the fixture's data directory; returns its database path. */
export function copyFixture(t: TestContext): { sourceDir: string; sourcePath: string } {
  const sourceDir = path.join(tempDir(t, "migrate-source-"), "python-data");
  return { sourceDir, sourcePath: copyFixtureTo(sourceDir) };
}

/** Copies the fixture's data directory to `sourceDir` (which must not exist); returns the database path. */
export function copyFixtureTo(sourceDir: string): string {
  cpSync(FIXTURE_DIR, sourceDir, { recursive: true });
  makeWritable(sourceDir);
  return path.join(sourceDir, SOURCE_DB);
}

function makeWritable(entry: string): void {
  const stat = statSync(entry);
  chmodSync(entry, stat.isDirectory() ? 0o700 : 0o600);
  if (stat.isDirectory()) for (const name of readdirSync(entry)) makeWritable(path.join(entry, name));
}

export interface Migrated {
  dataDir: string;
  dbPath: string;
  report: MigrationReport;
}

/** The fixture migrated into a fresh data directory. */
export async function migrateFixture(t: TestContext): Promise<Migrated> {
  const { sourcePath } = copyFixture(t);
  const dataDir = path.join(tempDir(t, "migrate-target-"), "data");
  const dbPath = path.join(dataDir, "registry.sqlite");
  const report = await runMigration({ dbPath, dataDir, sourcePath, dryRun: false });
  return { dataDir, dbPath, report };
}
