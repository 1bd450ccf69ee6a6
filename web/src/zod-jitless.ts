/**
 * zod probes for eval (`new Function`) to compile fast parsers, once, when the
 * first object schema is defined; under the page's CSP that probe is a
 * reported violation. Imported first by main.ts, so it runs before any
 * src/verify/ module defines a schema.
 */
import { config } from "zod";

config({ jitless: true });
