/** `oversight-registry keygen --out FILE`: a new issuer signing key (core/issuer-key.ts), never overwriting one. */
import path from "node:path";
import { createIssuerKey } from "../core/issuer-key.js";
import { CommandError, EXIT, fileError, parseCommandLine, runCommand, UsageError, type CommandIo } from "../cli/command-line.js";

export const KEYGEN_USAGE = `usage: oversight-registry keygen --out FILE
  Writes a new Ed25519 issuer key to FILE (mode 0600; an existing FILE is never
  overwritten) and prints its public key (64 hex characters) on stdout.
  register --key FILE signs manifests with it (docs/ISSUERS.md).
`;

export function keygenCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand("keygen", KEYGEN_USAGE, io, () => {
    const parsed = parseCommandLine(args, { out: { type: "string" } }, { min: 0, max: 0, name: "" });
    if (parsed === "help") return "help";
    if (parsed.values.out === undefined) throw new UsageError("--out FILE is required: where to write the new key");
    const file = path.resolve(io.cwd, parsed.values.out);
    let created;
    try {
      created = createIssuerKey(file);
    } catch (error) {
      throw fileError("write the key to", file, error);
    }
    if (!created.created) throw new CommandError(`${file} already exists; keygen never overwrites a key (choose another --out)`);
    io.stdout.write(`${created.signer.publicKeyHex}\n`);
    io.stderr.write(`keygen: wrote a new issuer key to ${file} (0600); keep it secret and back it up\n`);
    return EXIT.ok;
  });
}
