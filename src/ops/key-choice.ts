/**
 * Which registry key a migrated log keeps. Its heads were signed with the
 * source's key, and monitors pinned that key, so the source's key wins unless
 * the target data directory holds another key that may itself have signed
 * something: then the operator must say which one wins.
 *
 * A target key is known to have signed nothing when the target database
 * exists, is empty (checked by the caller), records that very key as its own
 * (a registry started on it and created or adopted the key) and the data
 * directory holds no signed-head record (also checked by the caller). That is
 * the documented Docker flow: a first start creates an empty registry, then
 * the migration goes into the same `/data`.
 */
import { IDENTITY_FILE, type RegistryIdentity } from "../core/identity.js";

export type KeyWinner = "source" | "target";

export class KeyChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyChoiceError";
  }
}

export interface KeyChoice {
  /** The key the migrated log is signed with; null when neither side has one. */
  key: RegistryIdentity | null;
  /** Write the source's identity into the data directory. */
  copy: boolean;
  /** The data directory's identity that the source's replaces (its file is kept under another name). */
  replace: RegistryIdentity | null;
  warnings: string[];
}

export interface KeyChoiceInput {
  source: RegistryIdentity | null;
  target: RegistryIdentity | null;
  /** The key the (empty) target database records as its own; null when there is no such database or record. */
  targetDbKey: string | null;
  winner: KeyWinner | undefined;
  dataDir: string;
}

export function chooseKey({ source, target, targetDbKey, winner, dataDir }: KeyChoiceInput): KeyChoice {
  if (source === null) {
    return {
      key: target,
      copy: false,
      replace: null,
      warnings: [
        `the source has no ${IDENTITY_FILE}: the heads of the migrated log were signed with a key this data directory ` +
          (target === null
            ? "does not hold; put that file into it before starting the registry (or start once with --new-identity: a new log to its monitors)"
            : `does not hold, and it will be signed with ${target.publicKeyHex} from now on`),
      ],
    };
  }
  if (target === null) return { key: source, copy: true, replace: null, warnings: [] };
  if (target.publicKeyHex === source.publicKeyHex) return { key: target, copy: false, replace: null, warnings: [] };

  const unused = targetDbKey === target.publicKeyHex;
  if (winner === "target") {
    return {
      key: target,
      copy: false,
      replace: null,
      warnings: [
        `kept the data directory's key ${target.publicKeyHex} (--keep-target-key): the migrated log's earlier heads were signed ` +
          `with the source's key ${source.publicKeyHex}; monitors pinned to it will see a new log`,
      ],
    };
  }
  if (winner === "source" || unused) {
    const why = winner === "source" ? "as --use-source-key says" : "which a registry created for this empty database and never signed with";
    return {
      key: source,
      copy: true,
      replace: target,
      warnings: [`replaced the data directory's key ${target.publicKeyHex} (${why}) by the source's key ${source.publicKeyHex}`],
    };
  }
  throw new KeyChoiceError(
    `${dataDir}/${IDENTITY_FILE} holds the key ${target.publicKeyHex} but the source's is ${source.publicKeyHex}, and nothing ` +
      "shows the data directory's key never signed a log (no empty database here records it as its key). Choose which key " +
      "the migrated log keeps: --use-source-key (its heads stay verifiable; the other key's file is kept under another name) " +
      "or --keep-target-key (signed with the data directory's key from now on: monitors pinned to the source's key see a new log)",
  );
}
