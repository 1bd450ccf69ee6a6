/** The use-cases over one Registry, as the HTTP layer and the tests call them. */
import { Attributions } from "./attribute.js";
import { Candidates } from "./candidates.js";
import { Events } from "./events.js";
import { EvidenceBundles } from "./evidence.js";
import { LogReads } from "./log-reads.js";
import { Registrations } from "./register.js";
import type { SignatureVerifier } from "../core/signature-check.js";
import type { Registry } from "./registry.js";

export class RegistryService {
  readonly registrations: Registrations;
  readonly events: Events;
  readonly attributions: Attributions;
  readonly candidates: Candidates;
  readonly log: LogReads;
  readonly evidence: EvidenceBundles;

  constructor(
    readonly registry: Registry,
    options: { verifier?: SignatureVerifier } = {},
  ) {
    this.registrations = new Registrations(registry, options.verifier ?? null);
    this.events = new Events(registry);
    this.attributions = new Attributions(registry);
    this.candidates = new Candidates(registry);
    this.log = new LogReads(registry);
    this.evidence = new EvidenceBundles(registry, this.log);
  }
}
